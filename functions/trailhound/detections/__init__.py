"""Detections as code: loading ``sql/detections/*.sql``, running them, coverage and fixture tests.

``trailhound.detections.model`` (header model, loader), ``.runner`` (run → findings),
``.testing`` (fixtures and baseline), ``.coverage`` (technique → detections).
"""

from trailhound.detections.model import (
    CONTRACT_COLUMNS,
    Detection,
    DetectionHeader,
    Severity,
    detections_dir,
    fixtures_dir,
    load_detection,
    load_detections,
    sql_dir,
)

__all__ = [
    "CONTRACT_COLUMNS",
    "Detection",
    "DetectionHeader",
    "Severity",
    "detections_dir",
    "fixtures_dir",
    "load_detection",
    "load_detections",
    "sql_dir",
]
