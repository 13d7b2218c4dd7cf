"""Evaluate detections on their fixtures and on the benign baseline (``detections test``, pytest).

Rules (docs/detections.md): a fixture file is loaded alone into an in-memory store and evaluated
over ``[min eventTime, max eventTime + 1s)``. Every ``positive_*.json`` raises at least one finding
of its detection whose event ids all come from that file; every ``negative_*.json`` raises none.
The whole pack over ``_baseline/*.json`` raises nothing but the entries of ``accepted.yaml``.
"""

from __future__ import annotations

import datetime as dt
import enum
import fnmatch
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from trailhound.config import Settings
from trailhound.detections.model import Detection, fixtures_dir
from trailhound.detections.runner import execute, findings_from_result, run_detection
from trailhound.errors import DetectionFormatError
from trailhound.findings import Finding
from trailhound.store.base import QueryResult
from trailhound.store.local import LocalStore

BASELINE = "_baseline"
ACCEPTED_FILE = "accepted.yaml"


class FixtureKind(enum.StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"


@dataclass(frozen=True)
class FixtureResult:
    detection_id: str
    path: Path
    kind: FixtureKind
    passed: bool
    message: str
    findings: tuple[Finding, ...] = ()


def fixture_files(detection_id: str, root: Path | None = None) -> dict[FixtureKind, list[Path]]:
    d = (root or fixtures_dir()) / detection_id
    return {kind: sorted(d.glob(f"{kind.value}_*.json")) for kind in FixtureKind}


@cache
def fixture_event_ids(path: Path) -> frozenset[str]:
    """The eventIDs in a CloudTrail delivery file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DetectionFormatError(f"{path}: not a readable CloudTrail JSON file ({exc})") from None
    records = data.get("Records") if isinstance(data, dict) else None
    if not isinstance(records, list):
        raise DetectionFormatError(f"{path}: expected {{\"Records\": [...]}}")
    return frozenset(str(r["eventID"]) for r in records if isinstance(r, dict) and r.get("eventID"))


@cache
def fixture_store(paths: tuple[Path, ...]) -> LocalStore:
    """An in-memory store holding exactly these files (cached: one store per file set)."""
    store = LocalStore(":memory:")
    summary = store.ingest([str(p) for p in paths])
    if summary.rejects:
        raise DetectionFormatError(f"{', '.join(map(str, paths))}: fixture records rejected by ingest: "
                                   f"{summary.rejects[0]}")
    return store


def store_window(store: LocalStore) -> tuple[dt.datetime, dt.datetime]:
    first, last = store.time_range()
    if first is None or last is None:
        raise DetectionFormatError(f"{store.name}: fixture holds no events")
    return first.replace(tzinfo=dt.UTC), last.replace(tzinfo=dt.UTC) + dt.timedelta(seconds=1)


@cache
def fixture_result(detection: Detection, path: Path) -> QueryResult:
    """The raw result of a detection over one fixture file (cached per detection and file)."""
    store = fixture_store((path,))
    start, end = store_window(store)
    return execute(store, detection, start, end)


def evaluate_fixture(detection: Detection, path: Path) -> FixtureResult:
    kind = FixtureKind.POSITIVE if path.name.startswith("positive_") else FixtureKind.NEGATIVE
    start, end = store_window(fixture_store((path,)))
    findings = findings_from_result(detection, fixture_result(detection, path), start, end)
    if kind is FixtureKind.NEGATIVE:
        ok = not findings
        msg = "no finding" if ok else f"{len(findings)} unexpected finding(s): " + _describe(findings)
    else:
        own = fixture_event_ids(path)
        good = [f for f in findings if set(f.event_ids) <= own]
        ok = bool(good)
        msg = (f"{len(good)} finding(s)" if ok else
               "no finding" if not findings else "findings cite events from outside the file")
    return FixtureResult(detection.id, path, kind, ok, msg, tuple(findings))


def evaluate_fixtures(detection: Detection, root: Path | None = None) -> list[FixtureResult]:
    """Every fixture of one detection; a missing positive or negative counts as a failure."""
    files = fixture_files(detection.id, root)
    results = [evaluate_fixture(detection, p) for kind in FixtureKind for p in files[kind]]
    for kind in FixtureKind:
        if not files[kind]:
            results.append(FixtureResult(detection.id, (root or fixtures_dir()) / detection.id, kind, False,
                                         f"no {kind.value}_*.json fixture"))
    return results


def _describe(findings: Iterable[Finding]) -> str:
    return "; ".join(f"{f.actor_arn} {f.event_name} {f.target}" for f in findings)


# --- the benign baseline ---------------------------------------------------------------------

class AcceptedFinding(BaseModel):
    """A baseline finding accepted as a known false positive (globs allowed in the narrowing fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    detection: str
    reason: str
    actor_arn: str | None = None
    target: str | None = None

    def covers(self, finding: Finding) -> bool:
        if finding.detection_id != self.detection:
            return False
        for pattern, value in ((self.actor_arn, finding.actor_arn), (self.target, finding.target)):
            if pattern is not None and not fnmatch.fnmatchcase(value or "", pattern):
                return False
        return True


def load_accepted(path: Path) -> list[AcceptedFinding]:
    if not path.exists():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as exc:
        raise DetectionFormatError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, list):
        raise DetectionFormatError(f"{path}: expected a list of {{detection, reason}} entries")
    out = []
    for i, item in enumerate(data):
        try:
            out.append(AcceptedFinding.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            raise DetectionFormatError(f"{path}: entry {i}: field {'.'.join(map(str, err['loc']))}: "
                                       f"{err['msg']}") from None
    return out


@dataclass
class BaselineResult:
    files: list[Path]
    accepted: list[tuple[Finding, AcceptedFinding]] = field(default_factory=list)
    unexpected: list[Finding] = field(default_factory=list)
    unused: list[AcceptedFinding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.unexpected


def baseline_files(root: Path | None = None) -> list[Path]:
    return sorted(((root or fixtures_dir()) / BASELINE).glob("*.json"))


def evaluate_baseline(detections: Sequence[Detection], root: Path | None = None) -> BaselineResult | None:
    """The pack over the whole baseline corpus; None when there is no baseline yet."""
    files = baseline_files(root)
    if not files:
        return None
    accepted = load_accepted((root or fixtures_dir()) / BASELINE / ACCEPTED_FILE)
    store = fixture_store(tuple(files))
    start, end = store_window(store)
    result = BaselineResult(files=files)
    used: set[int] = set()
    for detection in detections:
        for finding in run_detection(store, detection, start, end, settings=Settings()):
            match = next((i for i, a in enumerate(accepted) if a.covers(finding)), None)
            if match is None:
                result.unexpected.append(finding)
            else:
                used.add(match)
                result.accepted.append((finding, accepted[match]))
    result.unused = [a for i, a in enumerate(accepted) if i not in used]
    return result
