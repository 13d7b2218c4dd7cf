"""Benchmark: the whole detection pack over a 1M-event local store, beside a per-event Python loop.

    .venv/bin/python bench/bench_detections.py [--records 1000000] [--files 1000] [--repeat 2]

The data set comes from ``gen_events.ensure_dataset`` (cached under ``bench/data/``) and is
ingested once into ``bench/data/<dataset>.duckdb``. Timed:

* **pack**: every detection in ``sql/detections`` through the real runner
  (``run_detection``: bind, translate, execute, contract checks, findings) over the data set's
  whole time range; best of ``--repeat`` runs, with each detection's time;
* **python loop**: what a per-event implementation costs at the least: read every delivery
  file, parse every record, and test each record against each detection's event-source/name
  filter (taken from its SQL) — no joins, no aggregation, so a lower bound for such a design.

Target (issue 3): the pack in at most 5 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import sys
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen_events import ensure_dataset  # noqa: E402
from trailhound.config import Settings  # noqa: E402
from trailhound.detections.model import Detection, load_detections  # noqa: E402
from trailhound.detections.runner import run_detection  # noqa: E402
from trailhound.store.local import LocalStore  # noqa: E402

_SOURCE = re.compile(r"eventSource\s*=\s*'([^']+)'")
_NAME_EQ = re.compile(r"eventName\s*=\s*'([^']+)'")
_NAME_IN = re.compile(r"eventName\s+IN\s*\(([^)]*)\)", re.I)
_NAME_LIKE = re.compile(r"eventName\s+LIKE\s*'([^'%]+)%'", re.I)


def build_store(root: Path) -> Path:
    db = root.parent / f"{root.name}.duckdb"
    if not db.exists():
        started = time.perf_counter()
        with LocalStore(db) as store:
            summary = store.ingest([str(root / "AWSLogs")])
        print(f"ingested {summary.added:,} events into {db} in {time.perf_counter() - started:.1f} s")
    return db


def predicates(detections: list[Detection]) -> list[tuple[str, set[str], set[str], tuple[str, ...]]]:
    """(id, sources, exact names, name prefixes) per detection, read from its SQL."""
    out = []
    for d in detections:
        names = set(_NAME_EQ.findall(d.sql))
        for group in _NAME_IN.findall(d.sql):
            names.update(n.strip().strip("'") for n in group.split(","))
        out.append((d.id, set(_SOURCE.findall(d.sql)), names, tuple(_NAME_LIKE.findall(d.sql))))
    return out


def python_loop(root: Path, preds: list[tuple[str, set[str], set[str], tuple[str, ...]]]) -> tuple[float, int, int]:
    started = time.perf_counter()
    events = hits = 0
    for path in sorted((root / "AWSLogs").rglob("*.json.gz")):
        with gzip.open(path, "rb") as fh:
            records = orjson.loads(fh.read())["Records"]
        for r in records:
            events += 1
            src, name = r.get("eventSource"), r.get("eventName") or ""
            for _, sources, names, prefixes in preds:
                if (not sources or src in sources) and (
                        name in names or (prefixes and name.startswith(prefixes)) or (not names and not prefixes)):
                    hits += 1
    return time.perf_counter() - started, events, hits


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-python-loop", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("TZ", "UTC")

    root, _ = ensure_dataset(records=args.records, files=args.files)
    db = build_store(root)
    store = LocalStore(db, read_only=True)
    first, last = store.time_range()
    import datetime as dt

    start = first.replace(tzinfo=dt.UTC)
    end = last.replace(tzinfo=dt.UTC) + dt.timedelta(seconds=1)
    detections = load_detections()
    settings = Settings()
    print(f"{store.count():,} events, {len(detections)} detections, window [{start:%Y-%m-%dT%H:%M}Z, {end:%Y-%m-%dT%H:%M}Z)")

    best_total, best_each = float("inf"), {}
    findings = 0
    for _ in range(args.repeat):
        each = {}
        total_start = time.perf_counter()
        findings = 0
        for d in detections:
            t = time.perf_counter()
            findings += len(run_detection(store, d, start, end, settings=settings))
            each[d.id] = time.perf_counter() - t
        total = time.perf_counter() - total_start
        if total < best_total:
            best_total, best_each = total, each
    print(f"pack: {best_total:.2f} s for {len(detections)} detections ({findings} findings), best of {args.repeat}")
    for did, secs in sorted(best_each.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  {secs * 1000:7.0f} ms  {did}")
    if not args.no_python_loop:
        secs, events, hits = python_loop(root, predicates(detections))
        print(f"python per-event loop (parse + event filters only): {secs:.2f} s over {events:,} events "
              f"({hits:,} filter hits); pack is {secs / best_total:.1f}x faster")
    print(f"target: pack <= 5 s -> {'OK' if best_total <= 5 else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
