"""Write records as CloudTrail writes them: gzipped ``{"Records": [...]}`` delivery files.

CloudTrail delivers a region's events in files about every five minutes, a few minutes after
the calls, named ``<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 chars>.json.gz`` under
``AWSLogs/<account>/CloudTrail/<region>/<YYYY>/<MM>/<DD>/``. The time in the name is the
delivery time; :func:`delivery_time` reads it back so a replay can deliver files in order.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
import re
import string
from collections import defaultdict
from pathlib import Path
from typing import Any

DELIVERY_INTERVAL = dt.timedelta(minutes=5)
_NAME = re.compile(r"_CloudTrail_(?P<region>[a-z0-9-]+)_(?P<ts>\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz$")


def _parse(t: str) -> dt.datetime:
    return dt.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def write_delivery_files(records: list[dict[str, Any]], out: Path, rng: random.Random,
                         *, min_delay_s: int = 120, max_delay_s: int = 540) -> list[Path]:
    """Group records by region and delivery slot; return the files written, in delivery order."""
    groups: dict[tuple[str, str, dt.datetime], list[dict[str, Any]]] = defaultdict(list)
    for rec in sorted(records, key=lambda r: (r["eventTime"], r["eventID"])):
        at = _parse(rec["eventTime"]) + dt.timedelta(seconds=rng.randint(min_delay_s, max_delay_s))
        slot = at.replace(second=0, microsecond=0)
        slot += dt.timedelta(minutes=(5 - slot.minute % 5) % 5)
        groups[(rec["recipientAccountId"], rec["awsRegion"], slot)].append(rec)
    written: list[tuple[dt.datetime, Path]] = []
    for (account, region, slot), recs in sorted(groups.items(), key=lambda kv: (kv[0][2], kv[0][1], kv[0][0])):
        folder = out / "AWSLogs" / account / "CloudTrail" / region / slot.strftime("%Y/%m/%d")
        folder.mkdir(parents=True, exist_ok=True)
        suffix = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(16))
        path = folder / f"{account}_CloudTrail_{region}_{slot.strftime('%Y%m%dT%H%MZ')}_{suffix}.json.gz"
        payload = json.dumps({"Records": recs}, separators=(",", ":")).encode()
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            gz.write(payload)
        written.append((slot, path))
    return [p for _, p in written]


def delivery_time(path: Path) -> dt.datetime | None:
    """The delivery time encoded in a CloudTrail file name, or None for other names."""
    m = _NAME.search(Path(path).name)
    if not m:
        return None
    return dt.datetime.strptime(m.group("ts"), "%Y%m%dT%H%MZ").replace(tzinfo=dt.UTC)


def delivered_by(files: list[Path], clock: dt.datetime) -> list[Path]:
    """The files CloudTrail would have delivered by ``clock``."""
    return [f for f in files if (t := delivery_time(f)) is not None and t <= clock]
