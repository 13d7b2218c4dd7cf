"""Recall and noise of the detection pack on real attack recordings mixed with benign activity.

Reads the real CloudTrail records of Stratus Red Team detonations (``shared/reference/
stratus-detonation-logs.jsonl`` beside the project, or ``--recording FILE``: JSON Lines of
``{"technique", "event"}``), mixes them with the simulator's benign background, runs every
detection over the whole range on a fresh local store, and prints, per technique, which
detections caught it; then the findings that contain no attack event (false positives) by
severity. Not part of the pack's fixtures: the project does not contain these records.

    python bench/eval_reference.py [--recording FILE] [--benign 3000]
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from trailhound.detections.model import load_detections
from trailhound.detections.runner import run_detections
from trailhound.simulate.benign import benign_records
from trailhound.simulate.events import Recorder
from trailhound.simulate.writer import write_delivery_files
from trailhound.store.local import LocalStore

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "reference" / "stratus-detonation-logs.jsonl"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recording", type=Path, default=DEFAULT)
    ap.add_argument("--benign", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not args.recording.exists():
        print(f"no recording at {args.recording}", file=sys.stderr)
        return 2
    lines = [json.loads(line) for line in args.recording.read_text().splitlines() if line.strip()]
    by_event: dict[str, str] = {}
    records = []
    for item in lines:
        rec = item["event"]
        by_event[rec["eventID"]] = item["technique"]
        records.append(rec)
    times = [dt.datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")) for r in records]
    start, end = min(times) - dt.timedelta(hours=1), max(times) + dt.timedelta(hours=1)
    rng = random.Random(args.seed)
    rec = Recorder(rng)
    # Benign background across the recording's span, in small doses per day of recording.
    days = sorted({t.date() for t in times})
    for d in days:
        day_start = dt.datetime.combine(d, dt.time(), tzinfo=dt.UTC)
        benign_records(rec, day_start, day_start + dt.timedelta(days=1), args.benign // len(days), rng=rng)
    with tempfile.TemporaryDirectory() as tmp:
        files = write_delivery_files(records + rec.records, Path(tmp) / "logs", rng)
        with LocalStore(Path(tmp) / "events.duckdb") as store:
            t0 = time.perf_counter()
            summary = store.ingest(files)
            ingest_s = time.perf_counter() - t0
            detections = load_detections()
            t0 = time.perf_counter()
            findings = run_detections(store, detections, start, end)
            detect_s = time.perf_counter() - t0
    techniques = sorted({i["technique"] for i in lines})
    caught: dict[str, set[str]] = collections.defaultdict(set)
    false_positives = []
    for f in findings:
        hit = {by_event[e] for e in f.event_ids if e in by_event}
        for t in hit:
            caught[t].add(f.detection_id)
        if not hit:
            false_positives.append(f)
    print(f"recording: {len(records)} attack records of {len(techniques)} techniques + {len(rec.records)} benign; "
          f"ingested {summary.added} in {ingest_s:.1f} s; {len(detections)} detections in {detect_s:.1f} s")
    for t in techniques:
        mark = "CAUGHT" if caught.get(t) else "missed"
        print(f"  {mark:6}  {t:60} {', '.join(sorted(caught.get(t, ())))}")
    n = sum(1 for t in techniques if caught.get(t))
    print(f"caught {n} of {len(techniques)} techniques")
    sev = collections.Counter(f.severity.value for f in false_positives)
    print(f"false-positive findings (no attack event): {len(false_positives)} {dict(sev)}")
    for f in false_positives:
        print(f"  {f.severity.value:8} {f.detection_id:45} {f.actor_arn} {f.target}")
    medium_plus = sum(v for k, v in sev.items() if k in ("medium", "high", "critical"))
    print(f"RESULT caught={n}/{len(techniques)} fp_medium_plus={medium_plus}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
