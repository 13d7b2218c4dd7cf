"""Benchmark: ``trailhound ingest`` of CloudTrail delivery files against ``zcat`` of the same files.

    .venv/bin/python bench/bench_ingest.py [--records 1000000] [--files 1000] [--repeat 1] [--json]

The data set comes from ``gen_events.ensure_dataset`` (generated once, cached under
``bench/data/``, git-ignored). Timed, each as a child process:

* **zcat**: ``zcat FILES > /dev/null`` (decompression alone, one core);
* **ingest**: ``trailhound ingest DIR --db FRESH.duckdb`` into a new DuckDB file, with its peak
  resident memory (``wait4`` rusage of that child) and CPU time;
* **filter**: ``SELECT count(*) FROM $EDS_ID WHERE eventName = '...'`` over the loaded events
  through the store interface (bind, translate, run) on a freshly opened store, first run and
  best of five.

Targets (issue 2): ingest at most 2.5x zcat, peak memory at most 2 GB, the filter under 0.2 s.
With ``--repeat N`` zcat and ingest run side by side N times; each timing is the best of N, and
every run is listed (the machine's speed may drift from minute to minute).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen_events import DATA_DIR, ensure_dataset  # noqa: E402

TARGET_RATIO, TARGET_RSS_MB, TARGET_FILTER_S = 2.5, 2048, 0.2


def run_child(argv: list[str], **kw: Any) -> dict[str, float]:
    """Run ``argv``; wall seconds, CPU seconds (user+sys) and peak RSS (MB) of that child."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, **kw)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} exited with {proc.returncode}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024}


def time_zcat(files: list[Path]) -> dict[str, float]:
    with open(os.devnull, "wb") as null:
        return run_child(["zcat", *map(str, files)], stdout=null)


def time_ingest(root: Path, db: Path) -> tuple[dict[str, float], dict[str, Any]]:
    for p in (db, db.with_name(db.name + ".wal")):
        p.unlink(missing_ok=True)
    with tempfile.TemporaryFile() as out:
        figures = run_child([sys.executable, "-m", "trailhound.cli", "ingest", str(root), "--db", str(db),
                             "--format", "json"], stdout=out)
        out.seek(0)
        summary = json.loads(out.read())
    return figures, summary


def time_filter(db: Path, event_name: str) -> dict[str, float]:
    from trailhound.store.local import LocalStore

    sql = "SELECT count(*) AS n FROM $EDS_ID WHERE eventName = $NAME"
    times = []
    with LocalStore(db, read_only=True) as store:
        store.compile("SELECT 1 FROM $EDS_ID")  # load the translator (sqlglot) once, as any session does
        for _ in range(5):
            started = time.perf_counter()
            result = store.query(sql, {"NAME": event_name})
            times.append(time.perf_counter() - started)
    return {"first_s": times[0], "best_s": min(times), "rows": float(result.rows[0]["n"])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs of zcat and of ingest")
    ap.add_argument("--event-name", default="ConsoleLogin", help="eventName for the filter query")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)

    root, manifest = ensure_dataset(args.records, args.files)
    files = sorted(root.rglob("*.json.gz"))
    db = DATA_DIR / f"bench-ingest-{args.records}-{args.files}.duckdb"
    zcats: list[dict[str, float]] = []
    ingests: list[dict[str, float]] = []
    for _ in range(max(1, args.repeat)):  # side by side: this machine's speed drifts by the minute
        zcats.append(time_zcat(files))
        i, summary = time_ingest(root, db)
        ingests.append(i)
        if summary["events_added"] != manifest["records"]:
            raise SystemExit(f"ingest added {summary['events_added']} events, expected {manifest['records']}")
    zcat = min(zcats, key=lambda r: r["wall_s"])
    ingest = min(ingests, key=lambda r: r["wall_s"])
    flt = time_filter(db, args.event_name)
    ratio = ingest["wall_s"] / zcat["wall_s"]
    figures = {
        "records": manifest["records"], "files": len(files),
        "json_mb": round(manifest["json_bytes"] / 1e6), "gz_mb": round(manifest["gz_bytes"] / 1e6),
        "zcat_s": round(zcat["wall_s"], 2), "zcat_cpu_s": round(zcat["cpu_s"], 2),
        "ingest_s": round(ingest["wall_s"], 2), "ingest_cpu_s": round(ingest["cpu_s"], 2),
        "ratio": round(ratio, 2), "peak_rss_mb": round(ingest["rss_mb"]),
        "db_mb": round(db.stat().st_size / 1e6),
        "filter_first_s": round(flt["first_s"], 3), "filter_best_s": round(flt["best_s"], 3),
        "filter_rows": int(flt["rows"]), "cores": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 1),
        "runs": {"zcat_s": [round(r["wall_s"], 2) for r in zcats],
                 "ingest_s": [round(r["wall_s"], 2) for r in ingests],
                 "ingest_cpu_s": [round(r["cpu_s"], 2) for r in ingests],
                 "ratio": [round(i["wall_s"] / z["wall_s"], 2) for z, i in zip(zcats, ingests, strict=True)]},
        "ok": ratio <= TARGET_RATIO and ingest["rss_mb"] <= TARGET_RSS_MB and flt["first_s"] < TARGET_FILTER_S,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0 if figures["ok"] else 1
    mark = {True: "ok", False: "MISSED"}
    print(f"data      {figures['records']:,} records in {figures['files']:,} files: "
          f"{figures['json_mb']:,} MB JSON, {figures['gz_mb']:,} MB gzipped  ({root})")
    print(f"zcat      {figures['zcat_s']:8.2f} s wall  {figures['zcat_cpu_s']:8.2f} s CPU")
    print(f"ingest    {figures['ingest_s']:8.2f} s wall  {figures['ingest_cpu_s']:8.2f} s CPU  "
          f"peak RSS {figures['peak_rss_mb']:,} MB  [{mark[ingest['rss_mb'] <= TARGET_RSS_MB]}: <= {TARGET_RSS_MB} MB]"
          f"  store {figures['db_mb']:,} MB")
    print(f"ratio     {figures['ratio']:8.2f} x zcat  [{mark[ratio <= TARGET_RATIO]}: <= {TARGET_RATIO}]")
    if len(ingests) > 1:
        runs = figures["runs"]
        print("runs      " + "; ".join(f"{name} " + " ".join(f"{v:.2f}" for v in runs[key]) for name, key in (
            ("zcat s", "zcat_s"), ("ingest s", "ingest_s"), ("ingest CPU s", "ingest_cpu_s"),
            ("ratio of each pair", "ratio"))))
    print(f"filter    eventName = {args.event_name!r}: {figures['filter_rows']:,} rows, first "
          f"{figures['filter_first_s']:.3f} s, best {figures['filter_best_s']:.3f} s  "
          f"[{mark[flt['first_s'] < TARGET_FILTER_S]}: < {TARGET_FILTER_S} s]")
    print(f"machine   {figures['cores']} cores, load average {figures['load_avg_1m']} (a busy machine slows both)")
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
