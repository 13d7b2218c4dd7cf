"""Scheduled detection: one EventBridge rule per schedule group, each invoking the detect Lambda.

A schedule group is the set of detections whose header says the same ``schedule`` (``15m``,
``1h``, ...). The rule passes ``{"schedule": "15m", "detection_ids": [...]}``; the handler
(``trailhound.handlers.detect.handler``) runs those detections that are due. The detection
SQL ships inside the Lambda asset (``trailhound/_sql``), so the rules and the queries always
come from the same commit. Names start with ``trailhound`` (rules ``trailhound-detect-<schedule>``,
function ``trailhound-detect``) so the tampering detections recognise them. Failed deliveries and invocations that failed after
Lambda's retries land in one dead-letter queue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from trailhound_infra.assets import SQL_DIR
from trailhound_infra.functions import TrailHoundFunction

DETECT_HANDLER = "trailhound.handlers.detect.handler"
DEFAULT_SCHEDULE = "15m"
_DURATION = re.compile(r"^(\d+)([mhd])$")


@dataclass(frozen=True)
class ScheduleGroup:
    schedule: str  # "15m", "1h", "1d"
    detection_ids: tuple[str, ...]

    @property
    def rate(self) -> Duration:
        m = _DURATION.match(self.schedule)
        if not m or int(m.group(1)) == 0:
            raise ValueError(f"schedule {self.schedule!r}: expected a duration such as 15m, 1h, 1d")
        n, unit = int(m.group(1)), m.group(2)
        return {"m": Duration.minutes, "h": Duration.hours, "d": Duration.days}[unit](n)

    @property
    def construct_id(self) -> str:
        return f"Every{self.schedule}"


def schedule_groups(detections_dir: Path | None = None) -> list[ScheduleGroup]:
    """Detections grouped by the ``schedule`` in their header, via the project's own loader.

    No detection files yet: one default group, so the pipeline is deployable and observable.
    """
    directory = detections_dir or SQL_DIR / "detections"
    by_schedule: dict[str, list[str]] = {}
    if directory.is_dir() and any(directory.glob("*.sql")):
        from trailhound.detections.model import load_detections

        for det in load_detections(directory):
            by_schedule.setdefault(det.header.schedule, []).append(det.id)
    if not by_schedule:
        by_schedule[DEFAULT_SCHEDULE] = []
    return [ScheduleGroup(s, tuple(sorted(ids))) for s, ids in sorted(by_schedule.items(), key=_minutes)]


def _minutes(item: tuple[str, list[str]]) -> int:
    m = _DURATION.match(item[0])
    return int(m.group(1)) * {"m": 1, "h": 60, "d": 1440}[m.group(2)] if m else 0


def header_schedule(text: str) -> str | None:
    """The ``schedule`` of one detection file's header (for tests and tooling)."""
    stripped = text.lstrip()
    if not stripped.startswith("/*") or "*/" not in stripped:
        return None
    data = yaml.safe_load(stripped[2:stripped.index("*/")])
    return str(data.get("schedule")) if isinstance(data, dict) and data.get("schedule") else None


class Detections(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, code: lambda_.Code, environment: Mapping[str, str],
                 log_retention: logs.RetentionDays, removal_policy: RemovalPolicy,
                 groups: list[ScheduleGroup] | None = None) -> None:
        super().__init__(scope, construct_id)
        self.groups = groups if groups is not None else schedule_groups()
        self.dead_letters = sqs.Queue(
            self, "DeadLetters", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            retention_period=Duration.days(14))
        self.detect = TrailHoundFunction(
            self, "Detect", code=code, handler=DETECT_HANDLER, function_name="trailhound-detect",
            description="Runs the due detections on the event store and publishes new findings",
            environment=environment, log_retention=log_retention, removal_policy=removal_policy,
            timeout=Duration.minutes(10), memory_size=1024,
            dead_letter_queue=self.dead_letters)
        self.rules: list[events.Rule] = []
        for group in self.groups:
            rule = events.Rule(
                self, group.construct_id, schedule=events.Schedule.rate(group.rate),
                rule_name=f"trailhound-detect-{group.schedule}",
                description=f"TrailHound: run the {group.schedule} detections "
                            f"({len(group.detection_ids)} detection(s))")
            rule.add_target(targets.LambdaFunction(
                self.detect.function,
                event=events.RuleTargetInput.from_object(
                    {"schedule": group.schedule, "detection_ids": list(group.detection_ids)}),
                dead_letter_queue=self.dead_letters, retry_attempts=2, max_event_age=Duration.hours(1)))
            self.rules.append(rule)
