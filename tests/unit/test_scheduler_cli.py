"""``trailhound run`` / ``watch`` and the local state file."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import pytest
from trailhound.cli import main
from trailhound.detections.model import fixtures_dir
from trailhound.errors import UserInputError
from trailhound.scheduler.core import DetectionState
from trailhound.scheduler.state import Commit, LocalFileState, StateError, default_state_path
from trailhound.store.local import LocalStore

FIXTURES = fixtures_dir() / "cloudtrail_logging_stopped"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "events.duckdb"
    with LocalStore(path) as store:
        store.ingest([FIXTURES])
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_prints_only_new_findings_as_detect_does(db, capsys):
    base = ["run", "--db", str(db), "--detection", "cloudtrail_logging_stopped", "--format", "json"]
    code, out, err = run(capsys, *base, "--now", "2026-11-24T11:15:00Z")
    assert code == 0, err
    findings = json.loads(out)
    assert len(findings) == 2 and "org-audit-trail" in {f["target"] for f in findings}
    assert {"fingerprint", "event_ids", "detection_id", "severity", "response", "window"} <= set(findings[0])
    assert "2 new finding(s)" in err
    # the same clock again: nothing is due; 15 minutes later: due, overlapping, nothing new
    assert json.loads(run(capsys, *base, "--now", "2026-11-24T11:15:00Z")[1]) == []
    code, out, err = run(capsys, *base, "--now", "2026-11-24T11:30:00Z")
    assert code == 0 and json.loads(out) == [] and "1 due" in err
    state = json.loads((db.parent / "state.json").read_text())
    assert state["detections"]["cloudtrail_logging_stopped"]["watermark"] == "2026-11-24T11:25:00Z"


def test_run_table_output_and_default_state_beside_the_db(db, capsys):
    code, out, err = run(capsys, "run", "--db", str(db), "--detection", "cloudtrail_logging_stopped",
                         "--now", "2026-11-24T11:15:00Z")
    assert code == 0 and "2 new finding(s) at 2026-11-24T11:15:00Z" in out
    assert default_state_path(db) == db.parent / "state.json" and (db.parent / "state.json").exists()


def test_run_with_an_explicit_state_file_and_store_spec(db, tmp_path, capsys):
    state = tmp_path / "elsewhere" / "s.json"
    code, out, _ = run(capsys, "run", "--store", f"local:{db}", "--state", str(state), "--detection",
                       "cloudtrail_logging_stopped", "--now", "2026-11-24T11:15:00Z", "--format", "json")
    assert code == 0 and len(json.loads(out)) == 2 and state.exists()


def test_bad_options_are_one_line_errors(db, capsys):
    code, _, err = run(capsys, "run", "--db", str(db), "--lateness", "soon")
    assert code == 2 and "--lateness 'soon'" in err and "Traceback" not in err
    code, _, err = run(capsys, "run", "--db", str(db), "--now", "yesterday-ish")
    assert code == 2 and "--now" in err
    code, _, err = run(capsys, "run", "--db", str(db.parent / "missing.duckdb"))
    assert code == 2 and "no event store here" in err


def test_a_state_file_of_another_store_is_refused(db, tmp_path, capsys):
    other = tmp_path / "other.duckdb"
    with LocalStore(other) as s:
        s.ingest([FIXTURES])
    state = tmp_path / "shared.json"
    assert run(capsys, "run", "--db", str(db), "--state", str(state), "--detection", "cloudtrail_logging_stopped",
               "--now", "2026-11-24T11:15:00Z")[0] == 0
    code, _, err = run(capsys, "run", "--db", str(other), "--state", str(state), "--now", "2026-11-24T11:15:00Z")
    assert code == 2 and "belongs to store" in err


def test_watch_runs_cycles_and_stops_cleanly(db, capsys):
    code, out, err = run(capsys, "watch", "--db", str(db), "--detection", "cloudtrail_logging_stopped",
                         "--interval", "1s", "--cycles", "2", "--format", "json")
    assert code == 0, err
    summaries = [line for line in err.splitlines() if line.startswith("cycle ")]
    assert len(summaries) == 2, err  # one summary line per cycle
    assert all(" 0 failed" in line for line in summaries), err
    assert out.strip() == "", out  # the fixtures are days old: the real clock's windows hold nothing


def test_watch_stops_on_ctrl_c(db, capsys, monkeypatch):
    import time

    import trailhound.commands.scheduler as cmd

    class ClockThatIsInterrupted:  # the command's clock only; the time module stays untouched
        monotonic = staticmethod(time.monotonic)

        @staticmethod
        def sleep(_seconds: float) -> None:
            raise KeyboardInterrupt

    monkeypatch.setattr(cmd, "time", ClockThatIsInterrupted)
    code, _, err = run(capsys, "watch", "--db", str(db), "--detection", "cloudtrail_logging_stopped")
    assert code == 0 and "watch stopped" in err


# --- the state file ------------------------------------------------------------------------------------

T0 = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def test_state_file_is_replaced_atomically_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "state.json"
    state = LocalFileState(path)
    with state.lock():
        state.commit("det_a", Commit(state=DetectionState("det_a").succeeded(T0, T0), expected_version=None))
    data = json.loads(path.read_text())
    assert data["format"] == "trailhound-scheduler-state/1"
    assert data["detections"]["det_a"]["watermark"] == "2026-11-24T12:00:00Z"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]


def test_a_second_scheduler_waits_for_the_lock_then_gives_up_with_a_clear_error(tmp_path):
    path = tmp_path / "state.json"
    holder = LocalFileState(path)
    ready, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.lock():
            ready.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    try:
        ready.wait(5)
        with pytest.raises(StateError, match="locked by another trailhound"):
            with LocalFileState(path, lock_timeout=0.3).lock():
                pass
    finally:
        release.set()
        t.join()
    with LocalFileState(path, lock_timeout=0.3).lock():  # free again
        pass


def test_a_corrupt_state_file_is_named(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(UserInputError, match="state.json: scheduler state is not readable JSON"):
        LocalFileState(path).load_states(["det_a"])
    path.write_text(json.dumps({"something": "else"}))
    with pytest.raises(UserInputError, match="not a TrailHound scheduler state file"):
        LocalFileState(path).load_states(["det_a"])
