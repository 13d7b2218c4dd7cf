"""A small in-process interpreter for the subset of Amazon States Language the workflow uses.

The local runner and the demo execute ``workflow.asl.json`` — the same definition CDK deploys —
with each Task resource mapped to a Python callable. Supported: Task (bare function ARN,
``lambda:invoke`` and ``lambda:invoke.waitForTaskToken`` with ``Parameters``/``Payload``),
Choice (StringEquals, BooleanEquals, NumericGreaterThan(Equals), IsPresent, And/Or/Not), Wait,
Pass, Succeed, Fail; ResultPath, Retry (counted, no sleeping), Catch, TimeoutSecondsPath.

A waitForTaskToken task calls its function with a fresh token, then asks ``await_token`` for
the answer: it returns the task output, raises :class:`TaskTimeout` (→ ``States.Timeout``), or
raises :class:`Paused` to stop the execution where it is (the caller keeps ``Paused.state``
and resumes later with :func:`run` ``(start_at=..., )``).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Json = Any
TaskFn = Callable[[Json], Json]


class StateError(Exception):
    """An error raised inside a state, with its ASL error name (``States.TaskFailed``...)."""

    def __init__(self, error: str, cause: str):
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


class TaskTimeout(Exception):
    pass


@dataclass
class Paused(Exception):
    """The execution stopped at a waitForTaskToken state; resume at ``next_state`` later."""

    state_name: str
    state: Json
    token: str
    result_path: str | None
    next_state: str


@dataclass
class Execution:
    output: Json
    history: list[dict[str, Any]] = field(default_factory=list)


def _path_get(doc: Json, path: str, context: Mapping[str, Any]) -> Json:
    if path.startswith("$$."):
        doc, path = context, "$" + path[2:]
    if path == "$":
        return doc
    if not path.startswith("$."):
        raise StateError("States.Runtime", f"unsupported path {path!r}")
    cur = doc
    for part in path[2:].split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            raise KeyError(path)
        cur = cur[part]
    return cur


def _path_set(doc: Json, path: str | None, value: Json) -> Json:
    if path is None:
        return doc
    if path == "$":
        return value
    out = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    cur = out
    parts = path[2:].split(".")
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value
    return out


def _parameters(template: Json, doc: Json, context: Mapping[str, Any]) -> Json:
    if isinstance(template, dict):
        out = {}
        for k, v in template.items():
            if k.endswith(".$"):
                out[k[:-2]] = _path_get(doc, v, context)
            else:
                out[k] = _parameters(v, doc, context)
        return out
    if isinstance(template, list):
        return [_parameters(v, doc, context) for v in template]
    return template


def _choice_matches(rule: Mapping[str, Any], doc: Json) -> bool:
    if "And" in rule:
        return all(_choice_matches(r, doc) for r in rule["And"])
    if "Or" in rule:
        return any(_choice_matches(r, doc) for r in rule["Or"])
    if "Not" in rule:
        return not _choice_matches(rule["Not"], doc)
    try:
        value = _path_get(doc, rule["Variable"], {})
        present = True
    except KeyError:
        value, present = None, False
    if "IsPresent" in rule:
        return present is bool(rule["IsPresent"])
    if not present:
        return False
    if "StringEquals" in rule:
        return isinstance(value, str) and value == rule["StringEquals"]
    if "BooleanEquals" in rule:
        return isinstance(value, bool) and value is rule["BooleanEquals"]
    if "NumericGreaterThan" in rule:
        return isinstance(value, (int, float)) and value > rule["NumericGreaterThan"]
    if "NumericGreaterThanEquals" in rule:
        return isinstance(value, (int, float)) and value >= rule["NumericGreaterThanEquals"]
    raise StateError("States.Runtime", f"unsupported Choice rule {sorted(rule)}")


def _error_matches(patterns: list[str], error: str) -> bool:
    return "States.ALL" in patterns or error in patterns


def run(definition: Mapping[str, Any], input_doc: Json, tasks: Mapping[str, TaskFn], *,
        await_token: Callable[[str, Json, int | None], Json] | None = None,
        start_at: str | None = None, wait: Callable[[float], None] | None = None,
        max_steps: int = 200) -> Execution:
    """Execute ``definition`` on ``input_doc``; ``tasks`` maps a Task's function ARN/name to a callable."""
    states = definition["States"]
    name = start_at or definition["StartAt"]
    doc = copy.deepcopy(input_doc)
    history: list[dict[str, Any]] = []
    for _ in range(max_steps):
        state = states[name]
        kind = state["Type"]
        history.append({"state": name, "type": kind})
        if kind == "Succeed":
            return Execution(doc, history)
        if kind == "Fail":
            raise StateError(state.get("Error", "States.Fail"), state.get("Cause", ""))
        if kind == "Pass":
            result = state.get("Result", doc)
            doc = _path_set(doc, state.get("ResultPath", "$"), copy.deepcopy(result))
            name = state["Next"]
            continue
        if kind == "Choice":
            name = next((c["Next"] for c in state["Choices"] if _choice_matches(c, doc)), state.get("Default"))
            if name is None:
                raise StateError("States.NoChoiceMatched", f"no choice matched in {history[-1]['state']}")
            continue
        if kind == "Wait":
            seconds = state.get("Seconds")
            if "SecondsPath" in state:
                seconds = _path_get(doc, state["SecondsPath"], {})
            if wait and seconds:
                wait(float(seconds))
            name = state["Next"]
            continue
        if kind != "Task":
            raise StateError("States.Runtime", f"unsupported state type {kind}")
        try:
            result = _run_task(name, state, doc, tasks, await_token)
        except Paused:
            raise
        except StateError as exc:
            handler = next((c for c in state.get("Catch", []) if _error_matches(c["ErrorEquals"], exc.error)), None)
            if handler is None:
                raise
            history[-1]["error"] = exc.error
            doc = _path_set(doc, handler.get("ResultPath", "$"), {"Error": exc.error, "Cause": exc.cause})
            name = handler["Next"]
            continue
        doc = _path_set(doc, state.get("ResultPath", "$"), result)
        if state.get("End"):
            return Execution(doc, history)
        name = state["Next"]
    raise StateError("States.Runtime", f"execution did not finish within {max_steps} transitions")


def _run_task(name: str, state: Mapping[str, Any], doc: Json, tasks: Mapping[str, TaskFn],
              await_token: Callable[[str, Json, int | None], Json] | None) -> Json:
    resource = state["Resource"]
    callback = resource.endswith(".waitForTaskToken")
    token = uuid.uuid4().hex if callback else None
    context = {"Task": {"Token": token}}
    if resource.startswith("arn:aws:states:::lambda:invoke"):
        params = _parameters(state.get("Parameters", {}), doc, context)
        fn_name, payload = params["FunctionName"], params.get("Payload", doc)
    else:
        fn_name, payload = resource, (_parameters(state["Parameters"], doc, context) if "Parameters" in state else doc)
    fn = tasks.get(fn_name)
    if fn is None:
        raise StateError("States.Runtime", f"no function for task resource {fn_name!r}")
    attempts = sum(r.get("MaxAttempts", 3) for r in state.get("Retry", [])) + 1
    for attempt in range(attempts):
        try:
            output = fn(payload)
            break
        except Exception as exc:  # a failing Lambda is States.TaskFailed, as in Step Functions
            if attempt == attempts - 1:
                raise StateError("States.TaskFailed", f"{type(exc).__name__}: {exc}") from exc
    if not callback:
        return output
    if await_token is None:
        raise StateError("States.Runtime", "waitForTaskToken task with no way to wait for the token")
    timeout = None
    if "TimeoutSecondsPath" in state:
        timeout = int(_path_get(doc, state["TimeoutSecondsPath"], {}))
    elif "TimeoutSeconds" in state:
        timeout = int(state["TimeoutSeconds"])
    try:
        assert token is not None
        return await_token(token, payload, timeout)
    except TaskTimeout:
        raise StateError("States.Timeout", f"no answer for the task token within {timeout} s") from None
    except Paused as paused:
        paused.state_name = name
        paused.state = doc
        paused.token = token or ""
        paused.result_path = state.get("ResultPath")
        paused.next_state = state["Next"]
        raise
