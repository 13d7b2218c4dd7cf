"""Where the scheduler keeps watermarks, the ledger and the findings outbox: one interface, two stores.

* :class:`LocalFileState` — a JSON file beside the local event store (default
  ``.trailhound/state.json``), written atomically (temp file + rename) under an exclusive file
  lock, pruned exactly by event time on every commit.
* :class:`DynamoDBState` — one table (partition key ``pk``, sort key ``sk``, both strings; TTL
  attribute ``expires_at``, epoch seconds). Fingerprints are claimed with conditional writes in a
  transaction with their outbox item, so two overlapping invocations never raise one finding
  twice; the watermark is written last, conditional on the version read.

Items (DynamoDB) / sections (file):

==========================  =====================  ============================================
pk                          sk                     what
==========================  =====================  ============================================
``DET#<detection id>``      ``STATE``              watermark, last run, failures, version
``DET#<detection id>``      ``FP#<fingerprint>``   a raised finding's evidence span and count
``DET#<detection id>``      ``EV#<event id>``      the fingerprint an event counted towards
``OUTBOX``                  ``<det>#<fp>``         finding detail not yet accepted by every sink
``LATE``                    ``SNAPSHOT``           per-minute counts of the sealed range
==========================  =====================  ============================================
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trailhound import docstore
from trailhound.errors import StoreError, TrailHoundError, UserInputError
from trailhound.scheduler.core import (
    DetectionState,
    EventEntry,
    FindingEntry,
    LateSnapshot,
    SchedulerConfig,
    event_needed,
    expires_at,
    finding_needed,
    iso,
    parse_time,
    utc,
)

FILE_FORMAT = "trailhound-scheduler-state/1"


class StateError(StoreError):
    """The scheduler state could not be read or written (names the file or table)."""


class StateConflictError(StateError):
    """Another scheduler instance changed a detection's state since it was read."""


@dataclass(frozen=True)
class OutboxItem:
    """A new finding's event detail, waiting for the sinks that have not accepted it yet."""

    detection_id: str
    fingerprint: str
    detail: dict[str, Any]
    sinks: tuple[str, ...]
    created_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {"detection_id": self.detection_id, "fingerprint": self.fingerprint, "detail": self.detail,
                "sinks": list(self.sinks), "created_at": iso(self.created_at)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutboxItem:
        created = parse_time(data.get("created_at")) or dt.datetime.now(dt.UTC)
        return cls(detection_id=str(data["detection_id"]), fingerprint=str(data["fingerprint"]),
                   detail=dict(data["detail"]), sinks=tuple(data.get("sinks") or ()), created_at=created)


@dataclass
class Commit:
    """Everything one successful run of one detection writes."""

    state: DetectionState  # the new state (watermark moved)
    expected_version: int | None  # version read before the run; None: no state item yet
    claims: list[FindingEntry] = field(default_factory=list)
    updates: list[FindingEntry] = field(default_factory=list)
    events: list[EventEntry] = field(default_factory=list)
    outbox: list[OutboxItem] = field(default_factory=list)  # one per claim that has sinks
    reach: dt.timedelta = dt.timedelta(hours=1)
    dedup_period: dt.timedelta = dt.timedelta(hours=24)
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass
class CommitResult:
    lost: set[str] = field(default_factory=set)  # fingerprints another writer holds (not ours to raise)


class StateStore(abc.ABC):
    """The scheduler's memory. Implementations: :class:`LocalFileState`, :class:`DynamoDBState`."""

    name: str
    config: SchedulerConfig

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive use for one cycle where the store needs it (the local file); else a no-op."""
        yield

    @abc.abstractmethod
    def load_states(self, detection_ids: Sequence[str]) -> dict[str, DetectionState]: ...

    @abc.abstractmethod
    def lookup(self, detection_id: str, event_ids: Iterable[str],
               fingerprints: Iterable[str]) -> tuple[dict[str, EventEntry], dict[str, FindingEntry]]:
        """The ledger entries among ``event_ids`` and ``fingerprints`` for one detection."""

    @abc.abstractmethod
    def commit(self, detection_id: str, commit: Commit) -> CommitResult:
        """Write a successful run: claims (conditional), updates, event ids, outbox, then the state.

        Raises :class:`StateConflictError` when the state's version is no longer ``expected_version``.
        """

    @abc.abstractmethod
    def save_state(self, state: DetectionState, expected_version: int | None) -> None:
        """Write a detection's state alone (a failed run: the watermark does not move)."""

    @abc.abstractmethod
    def pending(self) -> list[OutboxItem]: ...

    @abc.abstractmethod
    def delivered(self, item: OutboxItem, remaining: Sequence[str]) -> None:
        """Record which sinks still have to accept ``item``; none left removes it."""

    @abc.abstractmethod
    def load_late(self) -> LateSnapshot | None: ...

    @abc.abstractmethod
    def save_late(self, snapshot: LateSnapshot) -> None: ...


# --- local JSON file ---------------------------------------------------------------------------------

def default_state_path(db: str | os.PathLike[str] | None) -> Path:
    """``state.json`` in the local store's directory (``.trailhound/state.json`` by default)."""
    from trailhound.store.local import default_db_path

    base = Path(db) if db and str(db) != ":memory:" else default_db_path()
    return base.parent / "state.json"


class LocalFileState(StateStore):
    """The state as one JSON file, locked for a cycle, replaced atomically on every write."""

    def __init__(self, path: str | os.PathLike[str], *, store_name: str | None = None,
                 config: SchedulerConfig | None = None, lock_timeout: float = 30.0):
        self.path = Path(path)
        self.name = f"file:{self.path}"
        self.store_name = store_name
        self.config = config or SchedulerConfig()
        self.lock_timeout = lock_timeout
        self._data: dict[str, Any] | None = None
        self._locked = 0

    # -- file handling ------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        if self._locked:
            self._locked += 1
            try:
                yield
            finally:
                self._locked -= 1
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a+") as fh:
            _flock(fh, lock_path, self.lock_timeout)
            self._locked = 1
            self._data = None  # re-read: another process may have written since
            try:
                yield
            finally:
                self._locked = 0
                self._data = None
                _funlock(fh)

    def _load(self) -> dict[str, Any]:
        if self._data is not None:
            return self._data
        data = docstore.load_json(
            self.path, missing={"format": FILE_FORMAT, "store": self.store_name},
            corrupt=lambda exc: (f"{self.path}: scheduler state is not readable JSON ({exc}); "
                                 "move it aside to start over"))
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
            raise UserInputError(f"{self.path}: not a TrailHound scheduler state file "
                                 f"(expected format {FILE_FORMAT!r})")
        recorded = data.get("store")
        if self.store_name and recorded and recorded != self.store_name:
            raise UserInputError(f"{self.path}: this state belongs to store {recorded}, not "
                                 f"{self.store_name}; pass --state FILE for this store")
        for key in ("detections", "findings", "events"):
            data.setdefault(key, {})
        data.setdefault("outbox", [])
        data.setdefault("late", None)
        if self.store_name and not data.get("store"):
            data["store"] = self.store_name
        self._data = data
        return data

    def _write(self) -> None:
        try:
            docstore.write_json_atomic(self.path, self._load(), indent=1, sort_keys=True)
        except OSError as exc:
            raise StateError(f"{self.path}: cannot write scheduler state ({exc.strerror})") from exc
        if not self._locked:
            self._data = None

    # -- StateStore ---------------------------------------------------------------------------
    def load_states(self, detection_ids: Sequence[str]) -> dict[str, DetectionState]:
        dets = self._load()["detections"]
        return {i: DetectionState.from_dict(dets[i]) for i in detection_ids if i in dets}

    def lookup(self, detection_id: str, event_ids: Iterable[str],
               fingerprints: Iterable[str]) -> tuple[dict[str, EventEntry], dict[str, FindingEntry]]:
        data = self._load()
        ev = data["events"].get(detection_id, {})
        fps = data["findings"].get(detection_id, {})
        events = {e: EventEntry(e, ev[e][0], parse_time(ev[e][1]) or utc(dt.datetime.min))
                  for e in dict.fromkeys(event_ids) if e in ev}
        findings = {f: FindingEntry.from_dict(fps[f]) for f in dict.fromkeys(fingerprints) if f in fps}
        return events, findings

    def commit(self, detection_id: str, commit: Commit) -> CommitResult:
        data = self._load()
        version = docstore.stored_version(data["detections"].get(detection_id))
        if version != commit.expected_version:
            raise StateConflictError(f"{self.path}: detection {detection_id} changed since it was read "
                                     f"(version {version}, expected {commit.expected_version})")
        fps = data["findings"].setdefault(detection_id, {})
        evs = data["events"].setdefault(detection_id, {})
        result = CommitResult()
        for claim in commit.claims:
            held = fps.get(claim.fingerprint)
            if held is not None and utc(claim.first_seen) <= FindingEntry.from_dict(held).last_seen \
                    + commit.dedup_period:
                result.lost.add(claim.fingerprint)  # same rule as the conditional write in DynamoDB
                continue
            fps[claim.fingerprint] = claim.to_dict()
        for upd in commit.updates:
            fps[upd.fingerprint] = upd.to_dict()
        for e in commit.events:
            evs[e.event_id] = [e.fingerprint, iso(e.event_time)]
        outbox = [o for o in data["outbox"]
                  if not (o["detection_id"] == detection_id and o["fingerprint"] in
                          {x.fingerprint for x in commit.outbox})]
        outbox += [o.to_dict() for o in commit.outbox if o.fingerprint not in result.lost]
        data["outbox"] = outbox
        data["detections"][detection_id] = commit.state.to_dict()
        if commit.state.watermark is not None:  # exact pruning by event time
            wm = commit.state.watermark
            data["events"][detection_id] = {k: v for k, v in evs.items()
                                            if event_needed(parse_time(v[1]) or wm, wm, commit.reach)}
            data["findings"][detection_id] = {
                k: v for k, v in fps.items()
                if finding_needed(FindingEntry.from_dict(v), wm, commit.reach, commit.dedup_period)}
        self._write()
        return result

    def save_state(self, state: DetectionState, expected_version: int | None) -> None:
        data = self._load()
        if docstore.stored_version(data["detections"].get(state.detection_id)) != expected_version:
            raise StateConflictError(f"{self.path}: detection {state.detection_id} changed since it was read")
        data["detections"][state.detection_id] = state.to_dict()
        self._write()

    def pending(self) -> list[OutboxItem]:
        return [OutboxItem.from_dict(o) for o in self._load()["outbox"]]

    def delivered(self, item: OutboxItem, remaining: Sequence[str]) -> None:
        data = self._load()
        out = []
        for o in data["outbox"]:
            if o["detection_id"] == item.detection_id and o["fingerprint"] == item.fingerprint:
                if remaining:
                    out.append({**o, "sinks": list(remaining)})
            else:
                out.append(o)
        data["outbox"] = out
        self._write()

    def load_late(self) -> LateSnapshot | None:
        raw = self._load().get("late")
        return LateSnapshot.from_dict(raw) if raw else None

    def save_late(self, snapshot: LateSnapshot) -> None:
        self._load()["late"] = snapshot.to_dict()
        self._write()


def _flock(fh: Any, path: Path, timeout: float) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no inter-process lock
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise StateError(f"{path}: the scheduler state is locked by another trailhound run or watch "
                                 f"(waited {timeout:.0f}s)") from None
            time.sleep(0.1)


def _funlock(fh: Any) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        return
    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


# --- DynamoDB -------------------------------------------------------------------------------------------

_DET = "DET#"
_STATE_SK = "STATE"
_FP = "FP#"
_EV = "EV#"
_OUTBOX_PK = "OUTBOX"
_LATE_PK, _LATE_SK = "LATE", "SNAPSHOT"
_MAX_RETRIES = 6


def _epoch(value: dt.datetime) -> int:
    return int(utc(value).timestamp())


class DynamoDBState(StateStore):
    """State in one DynamoDB table; the low-level ``dynamodb`` client is injected."""

    def __init__(self, table: str, client: Any, *, config: SchedulerConfig | None = None,
                 sleep: Any = time.sleep):
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        if not table:
            raise UserInputError("STATE_TABLE: no DynamoDB table name given for the scheduler state")
        self.table = table
        self.client = client
        self.name = f"dynamodb:{table}"
        self.config = config or SchedulerConfig()
        self._ser = TypeSerializer()
        self._de = TypeDeserializer()
        self._sleep = sleep

    # -- helpers -------------------------------------------------------------------------------
    def _item(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(v) for k, v in values.items() if v is not None}

    def _plain(self, item: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: self._de.deserialize(v) for k, v in item.items()}
        return {k: (int(v) if _is_decimal(v) and v == int(v) else v) for k, v in out.items()}

    def _error(self, what: str, exc: Exception) -> StateError:
        return StateError(f"DynamoDB table {self.table}: {what} failed ({docstore.aws_error_code(exc)})")

    def _batch_get(self, keys: list[dict[str, str]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        uniq = list({(k["pk"], k["sk"]): k for k in keys}.values())
        for i in range(0, len(uniq), 100):
            request: dict[str, Any] = {self.table: {"Keys": [self._item(k) for k in uniq[i:i + 100]],
                                                    "ConsistentRead": True}}
            for attempt in range(_MAX_RETRIES + 1):
                try:
                    resp = self.client.batch_get_item(RequestItems=request)
                except docstore.AWS_ERRORS as exc:
                    raise self._error("BatchGetItem", exc) from exc
                out += [self._plain(it) for it in resp.get("Responses", {}).get(self.table, [])]
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    break
                if attempt == _MAX_RETRIES:
                    raise StateError(f"DynamoDB table {self.table}: BatchGetItem left keys unprocessed "
                                     f"after {_MAX_RETRIES} retries")
                self._sleep(min(2.0, 0.05 * 2 ** attempt))
        return out

    def _batch_put(self, items: list[dict[str, Any]]) -> None:
        for i in range(0, len(items), 25):
            request: dict[str, Any] = {self.table: [{"PutRequest": {"Item": self._item(it)}}
                                                    for it in items[i:i + 25]]}
            for attempt in range(_MAX_RETRIES + 1):
                try:
                    resp = self.client.batch_write_item(RequestItems=request)
                except docstore.AWS_ERRORS as exc:
                    raise self._error("BatchWriteItem", exc) from exc
                request = resp.get("UnprocessedItems") or {}
                if not request:
                    break
                if attempt == _MAX_RETRIES:
                    raise StateError(f"DynamoDB table {self.table}: BatchWriteItem left items unprocessed "
                                     f"after {_MAX_RETRIES} retries")
                self._sleep(min(2.0, 0.05 * 2 ** attempt))

    def _put_state(self, state: DetectionState, expected_version: int | None) -> None:
        item = {"pk": _DET + state.detection_id, "sk": _STATE_SK,
                **{k: v for k, v in state.to_dict().items() if v is not None}}
        docstore.put_versioned(
            self.client, self.table, self._item(item), key="pk", expected=expected_version,
            conflict=lambda: StateConflictError(f"DynamoDB table {self.table}: detection {state.detection_id} "
                                                "was changed by another scheduler run"),
            error=lambda exc: self._error("PutItem (state)", exc))

    def _fp_item(self, entry: FindingEntry, commit: Commit) -> dict[str, Any]:
        return {"pk": _DET + entry.detection_id, "sk": _FP + entry.fingerprint, **entry.to_dict(),
                "last_seen_epoch": _epoch(entry.last_seen),
                "expires_at": _epoch(expires_at(entry.last_seen, commit.now, commit.reach,
                                                commit.dedup_period, self.config))}

    # -- StateStore ------------------------------------------------------------------------------
    def load_states(self, detection_ids: Sequence[str]) -> dict[str, DetectionState]:
        items = self._batch_get([{"pk": _DET + i, "sk": _STATE_SK} for i in detection_ids])
        return {it["detection_id"]: DetectionState.from_dict(it) for it in items}

    def lookup(self, detection_id: str, event_ids: Iterable[str],
               fingerprints: Iterable[str]) -> tuple[dict[str, EventEntry], dict[str, FindingEntry]]:
        pk = _DET + detection_id
        keys = [{"pk": pk, "sk": _EV + e} for e in dict.fromkeys(event_ids)]
        keys += [{"pk": pk, "sk": _FP + f} for f in dict.fromkeys(fingerprints)]
        events: dict[str, EventEntry] = {}
        findings: dict[str, FindingEntry] = {}
        for it in self._batch_get(keys):
            sk = str(it["sk"])
            if sk.startswith(_EV):
                eid = sk[len(_EV):]
                events[eid] = EventEntry(eid, str(it["fingerprint"]),
                                         parse_time(it.get("event_time")) or utc(dt.datetime.min))
            elif sk.startswith(_FP):
                findings[sk[len(_FP):]] = FindingEntry.from_dict(it)
        return events, findings

    def commit(self, detection_id: str, commit: Commit) -> CommitResult:
        result = CommitResult()
        outbox = {o.fingerprint: o for o in commit.outbox}
        for claim in commit.claims:
            ops: list[dict[str, Any]] = [{"Put": {
                "TableName": self.table,
                "Item": self._item(self._fp_item(claim, commit)),
                # free, or held by evidence too old to be the same finding
                "ConditionExpression": "attribute_not_exists(pk) OR last_seen_epoch < :cutoff",
                "ExpressionAttributeValues": {":cutoff": {"N": str(_epoch(claim.first_seen - commit.dedup_period))}},
            }}]
            item = outbox.get(claim.fingerprint)
            if item is not None:
                ops.append({"Put": {"TableName": self.table, "Item": self._item(self._outbox_item(item, commit))}})
            try:
                self.client.transact_write_items(TransactItems=ops)
            except docstore.AWS_ERRORS as exc:
                if docstore.aws_error_code(exc) == "TransactionCanceledException" and _cancelled_by_condition(exc):
                    result.lost.add(claim.fingerprint)
                    continue
                raise self._error("TransactWriteItems (claim)", exc) from exc
        puts = [self._fp_item(u, commit) for u in commit.updates]
        puts += [{"pk": _DET + detection_id, "sk": _EV + e.event_id, "fingerprint": e.fingerprint,
                  "event_time": iso(e.event_time),
                  "expires_at": _epoch(expires_at(e.event_time, commit.now, commit.reach, dt.timedelta(0),
                                                  self.config))}
                 for e in commit.events]
        self._batch_put(puts)
        self._put_state(commit.state, commit.expected_version)
        return result

    def _outbox_item(self, item: OutboxItem, commit: Commit) -> dict[str, Any]:
        return {"pk": _OUTBOX_PK, "sk": f"{item.detection_id}#{item.fingerprint}",
                "detection_id": item.detection_id, "fingerprint": item.fingerprint,
                "detail": json.dumps(item.detail, ensure_ascii=False), "sinks": list(item.sinks),
                "created_at": iso(item.created_at),
                "expires_at": _epoch(commit.now + commit.dedup_period + self.config.ttl_margin)}

    def save_state(self, state: DetectionState, expected_version: int | None) -> None:
        self._put_state(state, expected_version)

    def pending(self) -> list[OutboxItem]:
        request = {"TableName": self.table, "KeyConditionExpression": "pk = :pk",
                   "ExpressionAttributeValues": {":pk": {"S": _OUTBOX_PK}}, "ConsistentRead": True}
        out: list[OutboxItem] = []
        pages = docstore.paged_items(self.client, "query", request,
                                     error=lambda exc: self._error("Query (outbox)", exc))
        for raw in pages:
            it = self._plain(raw)
            out.append(OutboxItem(detection_id=str(it["detection_id"]), fingerprint=str(it["fingerprint"]),
                                  detail=json.loads(it["detail"]), sinks=tuple(it.get("sinks") or ()),
                                  created_at=parse_time(it.get("created_at")) or dt.datetime.now(dt.UTC)))
        return out

    def delivered(self, item: OutboxItem, remaining: Sequence[str]) -> None:
        key = self._item({"pk": _OUTBOX_PK, "sk": f"{item.detection_id}#{item.fingerprint}"})
        try:
            if remaining:
                self.client.update_item(TableName=self.table, Key=key, UpdateExpression="SET sinks = :s",
                                        ExpressionAttributeValues={":s": self._ser.serialize(list(remaining))})
            else:
                self.client.delete_item(TableName=self.table, Key=key)
        except docstore.AWS_ERRORS as exc:
            raise self._error("UpdateItem/DeleteItem (outbox)", exc) from exc

    def load_late(self) -> LateSnapshot | None:
        items = self._batch_get([{"pk": _LATE_PK, "sk": _LATE_SK}])
        if not items:
            return None
        it = items[0]
        return LateSnapshot.from_dict({"frontier": it["frontier"], "counted_from": it["counted_from"],
                                       "counts": it.get("counts") or {}})

    def save_late(self, snapshot: LateSnapshot) -> None:
        item = {"pk": _LATE_PK, "sk": _LATE_SK, **snapshot.to_dict()}
        docstore.put_item(self.client, self.table, self._item(item),
                          error=lambda exc: self._error("PutItem (late snapshot)", exc))


def _is_decimal(value: Any) -> bool:
    from decimal import Decimal

    return isinstance(value, Decimal)


def _cancelled_by_condition(exc: Exception) -> bool:
    reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
    if not reasons:  # some SDKs/emulators only put the reasons in the message
        return "ConditionalCheckFailed" in str(exc)
    return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)


__all__ = [
    "Commit", "CommitResult", "DynamoDBState", "LocalFileState", "OutboxItem", "StateConflictError",
    "StateError", "StateStore", "TrailHoundError", "default_state_path",
]
