"""What scheduled detection costs: queries per day and bytes scanned, from the pack's schedules.

Every number here is an estimate from stated assumptions (``CostEstimate.assumptions``), never a
measurement; the detect Lambda's ``BytesScanned`` metric is the measurement to compare with.

Model, per detection (steady state, one run per ``schedule``):

* window length ``w = max(schedule + lateness, lookback)`` (the scheduler's window rule);
* CloudTrail Lake scans the events in the window: ``events/day * w/1d * bytes_per_event``;
* Athena over the trail's S3 logs prunes by day partition only, so a query reads the day(s) it
  touches: on average half of today's objects plus whole earlier days the window reaches into,
  ``events/day * bytes_per_event * (0.5 + w/1d)``, and never less than Athena's 10 MB minimum;
* plus one late-event count per scheduler cycle over ``late_check_horizon``.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from trailhound.detections.model import Detection
from trailhound.scheduler.core import SchedulerConfig

DAY = dt.timedelta(days=1)
GiB = 1024 ** 3
TiB = 1024 ** 4
MiB = 1024 ** 2
DAYS_PER_MONTH = 30


class CostEngine(enum.StrEnum):
    LAKE = "lake"
    ATHENA = "athena"


@dataclass(frozen=True)
class Price:
    per_byte: float
    text: str
    source: str
    min_bytes_per_query: int = 0


# Published on-demand prices (us-east-1) that the estimate assumes; check the pages for your Region.
PRICES: dict[CostEngine, Price] = {
    CostEngine.LAKE: Price(0.005 / GiB, "CloudTrail Lake: $0.005 per GB of data scanned by queries",
                           "https://aws.amazon.com/cloudtrail/pricing/ (Lake, data analysis)"),
    CostEngine.ATHENA: Price(5.0 / TiB, "Athena: $5.00 per TB of data scanned, 10 MB minimum per query",
                             "https://aws.amazon.com/athena/pricing/ (SQL queries)", min_bytes_per_query=10 * MiB),
}
# Bytes an engine reads per CloudTrail event (a management event is ~1.5 KB of JSON).
DEFAULT_BYTES_PER_EVENT: dict[CostEngine, int] = {
    CostEngine.LAKE: 500,  # Lake bills the optimized, compressed columnar data a query reads
    CostEngine.ATHENA: 200,  # gzip'd JSON in S3 (about 7-8x smaller than the JSON); no column pruning
}


@dataclass(frozen=True)
class DetectionCost:
    detection_id: str
    schedule: dt.timedelta
    window: dt.timedelta
    queries_per_day: float
    bytes_per_query: float

    @property
    def bytes_per_day(self) -> float:
        return self.queries_per_day * self.bytes_per_query


@dataclass
class CostEstimate:
    engine: CostEngine
    events_per_day: int
    bytes_per_event: int
    price: Price
    rows: list[DetectionCost] = field(default_factory=list)
    late_check: DetectionCost | None = None
    assumptions: list[str] = field(default_factory=list)

    @property
    def all_rows(self) -> list[DetectionCost]:
        return self.rows + ([self.late_check] if self.late_check else [])

    @property
    def queries_per_day(self) -> float:
        return sum(r.queries_per_day for r in self.all_rows)

    @property
    def bytes_per_day(self) -> float:
        return sum(r.bytes_per_day for r in self.all_rows)

    @property
    def usd_per_day(self) -> float:
        return self.bytes_per_day * self.price.per_byte

    def as_dict(self) -> dict[str, Any]:
        def row(r: DetectionCost) -> dict[str, Any]:
            return {"detection": r.detection_id, "schedule": _fmt(r.schedule), "window": _fmt(r.window),
                    "queries_per_day": _num(r.queries_per_day),
                    "gb_per_query": round(r.bytes_per_query / GiB, 6),
                    "gb_per_day": round(r.bytes_per_day / GiB, 4)}

        return {
            "engine": self.engine.value, "events_per_day": self.events_per_day,
            "bytes_per_event": self.bytes_per_event, "price": self.price.text, "price_source": self.price.source,
            "detections": [row(r) for r in self.rows],
            "late_event_check": row(self.late_check) if self.late_check else None,
            "queries_per_day": _num(self.queries_per_day),
            "queries_per_month": round(self.queries_per_day * DAYS_PER_MONTH),
            "gb_per_day": round(self.bytes_per_day / GiB, 3),
            "gb_per_month": round(self.bytes_per_day * DAYS_PER_MONTH / GiB, 1),
            "usd_per_day": round(self.usd_per_day, 4),
            "usd_per_month": round(self.usd_per_day * DAYS_PER_MONTH, 2),
            "assumptions": self.assumptions,
        }


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 2)


def _fmt(delta: dt.timedelta) -> str:
    s = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0 and s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def bytes_per_query(engine: CostEngine, window: dt.timedelta, events_per_day: int, bytes_per_event: int) -> float:
    daily = events_per_day * bytes_per_event
    if engine is CostEngine.LAKE:
        scanned = daily * (window / DAY)
    else:
        scanned = daily * (0.5 + window / DAY)
    return max(scanned, float(PRICES[engine].min_bytes_per_query))


def estimate(detections: Sequence[Detection], *, events_per_day: int, engine: CostEngine,
             schedule: dt.timedelta | None = None, cycle: dt.timedelta = dt.timedelta(minutes=5),
             bytes_per_event: int | None = None, config: SchedulerConfig | None = None) -> CostEstimate:
    """Queries and bytes scanned per day for ``detections`` on ``engine`` (see the module doc)."""
    config = config or SchedulerConfig()
    b = bytes_per_event or DEFAULT_BYTES_PER_EVENT[engine]
    price = PRICES[engine]
    est = CostEstimate(engine=engine, events_per_day=events_per_day, bytes_per_event=b, price=price)
    for det in detections:
        every = schedule or det.header.schedule_delta
        window = max(every + config.lateness, det.header.lookback_delta)
        est.rows.append(DetectionCost(det.id, every, window, DAY / every,
                                      bytes_per_query(engine, window, events_per_day, b)))
    if config.late_check_horizon:
        est.late_check = DetectionCost("(late-event count)", cycle, config.late_check_horizon, DAY / cycle,
                                       bytes_per_query(engine, config.late_check_horizon, events_per_day, b))
    est.assumptions = [
        f"price: {price.text} ({price.source}); 1 GB = 2^30 bytes, 1 TB = 2^40 bytes, a month = {DAYS_PER_MONTH} days",
        f"{b} bytes scanned per CloudTrail event on {engine.value} (override with --bytes-per-event)",
        f"{events_per_day:,} events per day, spread evenly over the day",
        "one run per detection per schedule"
        + (f" (every detection's schedule overridden to {_fmt(schedule)})" if schedule else " (each detection's own)"),
        f"window per run = max(schedule + lateness {_fmt(config.lateness)}, the detection's lookback)",
        f"one late-event count per scheduler cycle ({_fmt(cycle)}) over {_fmt(config.late_check_horizon)}, "
        "costed like a detection query (on Lake it reads two columns, so this overstates it)"
        if config.late_check_horizon else "late-event count disabled",
    ]
    if engine is CostEngine.ATHENA:
        est.assumptions.append("Athena prunes by the daily partition only: a query reads on average half of "
                               "today's log objects plus every earlier day its window reaches into; "
                               "failed or cancelled queries also bill what they scanned")
    else:
        est.assumptions.append("Lake bills only the data a query scans; ingestion and retention are "
                               "billed separately and are not in this estimate")
    if any(math.isclose(r.bytes_per_query, price.min_bytes_per_query) for r in est.all_rows) and \
            price.min_bytes_per_query:
        est.assumptions.append("some queries are below the 10 MB minimum and are billed as 10 MB")
    return est
