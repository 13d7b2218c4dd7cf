"""Which attack techniques the pack covers: technique → detections, and why the rest are not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from trailhound.detections.model import Detection, techniques
from trailhound.errors import DetectionFormatError

UNCOVERED_FILE = Path(__file__).parent / "uncovered.yaml"


@dataclass(frozen=True)
class CoverageRow:
    technique: str
    name: str
    detections: tuple[str, ...]
    uncovered_reason: str | None

    @property
    def covered(self) -> bool:
        return bool(self.detections)


def load_uncovered(path: Path = UNCOVERED_FILE) -> dict[str, str]:
    """``technique id → reason`` for techniques the pack deliberately does not cover."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DetectionFormatError(f"{path}: cannot read ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) and v.strip() for v in data.values()):
        raise DetectionFormatError(f"{path}: expected a mapping of technique id to a non-empty reason")
    unknown = sorted(set(data) - set(techniques()))
    if unknown:
        raise DetectionFormatError(f"{path}: unknown technique id(s) {', '.join(unknown)}")
    return {str(k): str(v).strip() for k, v in data.items()}


def coverage(detections: Sequence[Detection], uncovered: dict[str, str] | None = None) -> list[CoverageRow]:
    reasons = load_uncovered() if uncovered is None else uncovered
    rows = []
    for tid, name in techniques().items():
        dets = tuple(sorted(d.id for d in detections if tid in d.header.techniques))
        rows.append(CoverageRow(tid, name, dets, None if dets else reasons.get(tid)))
    return rows


def coverage_markdown(rows: Sequence[CoverageRow]) -> str:
    covered = sum(r.covered for r in rows)
    lines = [
        "| technique | name | detections |",
        "|---|---|---|",
    ]
    for r in rows:
        if r.covered:
            cell = ", ".join(f"`{d}`" for d in r.detections)
        else:
            cell = f"not covered: {r.uncovered_reason}" if r.uncovered_reason else "**not covered** (no reason given)"
        lines.append(f"| `{r.technique}` | {r.name} | {cell} |")
    lines.append("")
    lines.append(f"{covered} of {len(rows)} techniques covered.")
    return "\n".join(lines) + "\n"


START_MARK = "<!-- coverage:start -->"
END_MARK = "<!-- coverage:end -->"


def write_between_markers(path: Path, table: str) -> bool:
    """Replace the text between the coverage markers in ``path``; True when the file changed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DetectionFormatError(f"{path}: cannot read ({exc.strerror})") from None
    start, end = text.find(START_MARK), text.find(END_MARK)
    if start < 0 or end < start:
        raise DetectionFormatError(f"{path}: no {START_MARK} ... {END_MARK} block to write the table into")
    new = text[:start + len(START_MARK)] + "\n" + table + text[end:]
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


def table_between_markers(path: Path) -> str | None:
    text = path.read_text(encoding="utf-8")
    start, end = text.find(START_MARK), text.find(END_MARK)
    if start < 0 or end < start:
        return None
    return text[start + len(START_MARK):end].lstrip("\n")
