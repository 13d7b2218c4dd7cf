"""The demo: simulate an incident, detect it on a schedule, investigate, contain, verify, report.

Everything runs in this process: the event store is a DuckDB file, AWS is moto's in-process
emulator (seeded with the scenario's user, keys, trail, instance and bucket, as the attack left
them), the scheduler runs cycles as a simulated clock advances through the incident while
CloudTrail files are "delivered" by that clock, and every finding goes through the workflow
definition the state machine uses. Containment is real boto3 calls, against the emulator.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trailhound.output import to_jsonable

SCENARIOS = ["compromised-iam-user", "compromised-ec2-instance"]
START = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
CYCLE = dt.timedelta(minutes=5)
ACCOUNT = "111122223333"


@dataclass
class DemoResult:
    report: Path
    findings: list[dict[str, Any]] = field(default_factory=list)
    investigations: list[dict[str, Any]] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    cycles: int = 0
    events: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        outcomes = Counter(i.get("outcome") for i in self.investigations)
        return {"events": self.events, "cycles": self.cycles, "findings": len(self.findings),
                "contained": outcomes.get("contained", 0), "escalated": outcomes.get("escalated", 0),
                "seconds": round(self.seconds, 1)}


@contextlib.contextmanager
def _emulator_env() -> Iterator[None]:
    """Credentials and settings for the in-process emulator (never real AWS), for the demo's
    duration only: the caller's environment is restored afterwards."""
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        os.environ.pop(key)
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo", "AWS_DEFAULT_REGION": "us-east-1",
        "MOTO_ACCOUNT_ID": ACCOUNT, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    })
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _approver(log: Callable[[str], None]) -> Callable[[dict[str, Any]], bool]:
    def approve(payload: dict[str, Any]) -> bool:
        d = payload.get("decision") or {}
        log(f"  approval requested for {d.get('action')} {d.get('params')}: approved by the on-call analyst")
        return True

    return approve


def run_demo(out: Path, *, seed: int = 7, benign: int = 800, log: Callable[[str], None] = print) -> DemoResult:
    """Run the whole incident into ``out`` and return what happened."""
    with _emulator_env():
        return _run(out, seed=seed, benign=benign, log=log)


def _run(out: Path, *, seed: int, benign: int, log: Callable[[str], None]) -> DemoResult:
    import boto3
    from moto import mock_aws

    from trailhound.containment.records import JsonFileRecordStore
    from trailhound.demo.emulator import seed as seed_emulator
    from trailhound.demo.emulator import snapshot_state
    from trailhound.demo.report import write_report
    from trailhound.detections.model import load_detections
    from trailhound.investigation.local import run_investigation
    from trailhound.investigation.policy import ContainmentMode, Policy
    from trailhound.investigation.records import JsonFileInvestigationStore
    from trailhound.investigation.steps import StepContext
    from trailhound.scheduler.cycle import run_cycle
    from trailhound.scheduler.state import LocalFileState
    from trailhound.simulate.scenarios import Resources, simulate
    from trailhound.simulate.writer import delivery_time
    from trailhound.store.local import LocalStore

    started = time.perf_counter()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    result = DemoResult(report=out / "report.html")
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        res = seed_emulator(session, Resources())
        result.before = snapshot_state(session, res)
        log(f"emulator: account {ACCOUNT}, user {res.user_name} (key {res.access_key_id}), "
            f"instance {res.instance_id}, trail {res.trail_name}")
        sim = simulate(SCENARIOS, out / "cloudtrail", seed=seed, benign=benign, start=START, resources=res)
        attack_ids = set(sim.attack_event_ids)
        log(f"simulated {sim.records} CloudTrail records in {len(sim.files)} delivery files "
            f"({sim.start:%H:%M}-{sim.end:%H:%M} UTC): {', '.join(SCENARIOS)}")
        deliveries = sorted(((delivery_time(f) or sim.end), f) for f in sim.files)
        detections = load_detections()
        clock = sim.start + CYCLE
        state = LocalFileState(out / "state.json")
        store = LocalStore(out / "events.duckdb")
        ctx = StepContext(
            store=store, session=session,
            containment_records=JsonFileRecordStore(out / "containments.json"),
            investigations=JsonFileInvestigationStore(out / "investigations.json"),
            policy=Policy(mode=ContainmentMode.AUTOMATIC, verify_wait_seconds=0),
            notify=lambda kind, body: None, clock=lambda: clock,
        )
        delivered = 0
        end = sim.end + dt.timedelta(minutes=30)
        while clock <= end:
            batch = [f for t, f in deliveries[delivered:] if t <= clock]
            if batch:
                store.ingest(batch)
                delivered += len(batch)
            cycle = run_cycle(store, detections, state, now=clock)
            result.cycles += 1
            for f in cycle.new_findings:
                log(f"{clock:%H:%M} finding {f.severity.value:<8} {f.detection_id}: {f.actor_arn}")
                result.findings.append(to_jsonable(f.model_dump()))
                record = run_investigation(ctx, f, approver=_approver(log))
                result.investigations.append(record)
                c = record.get("containment") or {}
                log(f"      -> {record.get('disposition')}: {c.get('action') or '-'} {c.get('status') or ''} "
                    f"=> {record.get('outcome')}")
            clock += CYCLE
        result.after = snapshot_state(session, res)
        result.events = store.count()
        timeline = _timeline(store, attack_ids)
        store.close()
    result.seconds = time.perf_counter() - started
    write_report(result.report, title="TrailHound incident report: simulated compromise",
                 summary=result.summary(), timeline=timeline, findings=result.findings,
                 investigations=result.investigations, before=_flatten(result.before),
                 after=_flatten(result.after))
    return result


def _timeline(store: Any, attack_ids: set[str]) -> list[tuple[dt.datetime, int, int]]:
    rows = store.con.execute(
        "SELECT time_bucket(INTERVAL 5 MINUTE, eventTime) AS t, list(eventID) FROM events GROUP BY 1 ORDER BY 1"
    ).fetchall()
    out = []
    for t, ids in rows:
        attack = sum(1 for i in ids if i in attack_ids)
        out.append((t.replace(tzinfo=dt.UTC), len(ids) - attack, attack))
    return out


def _flatten(state: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key_id, k in state.get("access_keys", {}).items():
        flat[f"access key {key_id} ({k['user']})"] = k["status"]
    flat["trail logging"] = "on" if state.get("trail_logging") else "off"
    inst = state.get("instance", {})
    flat["instance state"] = inst.get("state")
    flat["instance security groups"] = ", ".join(inst.get("security_groups", []))
    flat["instance quarantine tag"] = ", ".join(f"{k}={v}" for k, v in inst.get("tags", {}).items()
                                                if "quarantine" in k.lower() or "trailhound" in k.lower()) or "-"
    flat["role inline policies"] = ", ".join(state.get("role_inline_policies", [])) or "-"
    flat["EBS snapshots"] = state.get("snapshots")
    return flat
