"""The local interpreter runs the one workflow definition with the same routing as Step Functions."""

from __future__ import annotations

from typing import Any

import pytest
from trailhound.investigation import asl
from trailhound.investigation.definition import FUNCTION_SUBSTITUTIONS, load, render


def tasks(decision: dict[str, Any], *, fail: str | None = None) -> tuple[dict[str, Any], list[str]]:
    called: list[str] = []

    def step(name: str, result: Any) -> Any:
        def fn(doc: Any) -> Any:
            called.append(name)
            if name == fail:
                raise RuntimeError(f"{name} broke")
            return result

        return fn

    return {
        "enrich": step("enrich", {"summary": {}}),
        "decide": step("decide", decision),
        "request_approval": step("request_approval", {"requested": True}),
        "contain": step("contain", {"status": "applied"}),
        "verify": step("verify", {"escalate": False}),
        "notify": step("notify", {"ok": True}),
    }, called


DECISION = {"disposition": "auto_contain", "action": "a", "params": {}, "apply": True,
            "verify_wait_seconds": 0, "approval_timeout_seconds": 5}


def test_definition_renders_every_function_and_nothing_else() -> None:
    text = render({k: f"arn:aws:lambda:us-east-1:1:function:{v}" for k, v in FUNCTION_SUBSTITUTIONS.items()})
    assert "${" not in text
    with pytest.raises(KeyError, match="EnrichFunctionArn"):
        render({})


def test_auto_contain_path() -> None:
    t, called = tasks(DECISION)
    out = asl.run(load(), {"investigation_id": "i", "finding": {"id": "f"}}, t).output
    assert called == ["enrich", "decide", "contain", "verify", "notify"]
    assert out["containment"] == {"status": "applied"}


def test_approval_paths() -> None:
    decision = {**DECISION, "disposition": "needs_approval"}
    t, called = tasks(decision)
    out = asl.run(load(), {"investigation_id": "i", "finding": {"id": "f"}}, t,
                  await_token=lambda token, payload, timeout: {"approved": False}).output
    assert called == ["enrich", "decide", "request_approval", "notify"]
    assert out["approval"] == {"approved": False}

    def timeout(token: str, payload: Any, seconds: int | None) -> Any:
        assert seconds == 5 and payload["task_token"] == token
        raise asl.TaskTimeout()

    t, called = tasks(decision)
    out = asl.run(load(), {"investigation_id": "i", "finding": {"id": "f"}}, t, await_token=timeout).output
    assert out["approval"]["by"] == "timeout"
    assert "contain" not in called


def test_pause_and_resume_at_the_approval() -> None:
    decision = {**DECISION, "disposition": "needs_approval"}
    t, called = tasks(decision)

    def nobody(token: str, payload: Any, seconds: int | None) -> Any:
        raise asl.Paused("", None, token, None, "")

    with pytest.raises(asl.Paused) as paused:
        asl.run(load(), {"investigation_id": "i", "finding": {"id": "f"}}, t, await_token=nobody)
    state = dict(paused.value.state)
    state["approval"] = {"approved": True}
    asl.run(load(), state, t, start_at=paused.value.next_state)
    assert called == ["enrich", "decide", "request_approval", "contain", "verify", "notify"]


def test_a_failing_task_is_caught_as_states_task_failed() -> None:
    t, called = tasks(DECISION, fail="contain")
    out = asl.run(load(), {"investigation_id": "i", "finding": {"id": "f"}}, t).output
    assert out["containment_error"]["Error"] == "States.TaskFailed"
    assert "contain broke" in out["containment_error"]["Cause"]
    assert called == ["enrich", "decide", "contain", "notify"]
