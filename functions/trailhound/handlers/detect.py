"""The detect Lambda: a thin adapter around :func:`trailhound.scheduler.cycle.run_cycle`.

Invoked by the EventBridge schedule rules. Input: the rule's constant input
``{"schedule": "15m", "detection_ids": [...]}`` (``schedule_group`` is accepted for
``schedule``), or a scheduled event whose ``detail`` holds those keys, or ``{}`` (every detection).
It runs the due detections of that group on the configured engine, at most ``MAX_CONCURRENCY``
queries in flight, records the ledger in DynamoDB and publishes each new finding to the
``trailhound`` bus, to SNS and (when enabled) to Security Hub.

Environment (validated once per cold start; the ``TRAILHOUND_*`` spelling is accepted too):
``TRAILHOUND_STORE``, ``STATE_TABLE``, ``EVENT_BUS_NAME`` (default ``trailhound``),
``SNS_TOPIC_ARN`` (optional), ``SECURITY_HUB_ENABLED`` (default false), ``LATENESS`` (20m),
``SETTLE`` (5m), ``MAX_WINDOW`` (6h), ``DEDUP_PERIOD`` (24h), ``LATE_CHECK_HORIZON`` (6h, 0 off),
``MAX_CONCURRENCY`` (default: the engine's limit, 10 for CloudTrail Lake).

Metrics (namespace ``TrailHound``): Findings, Queries, BytesScanned, WatermarkLagSeconds,
LateEvents, DetectionFailures, PendingFindings.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from trailhound.errors import UserInputError
from trailhound.handlers.observability import MetricUnit, adopt_library_loggers, logger, metrics, tracer

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 1}


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class DetectSettings(BaseModel):
    """The detect function's configuration, from its environment."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    store: str = Field(min_length=1, validation_alias=_env("TRAILHOUND_STORE"))
    state_table: str = Field(min_length=1, validation_alias=_env("STATE_TABLE", "TRAILHOUND_STATE_TABLE"))
    event_bus_name: str = Field("trailhound", min_length=1,
                                validation_alias=_env("EVENT_BUS_NAME", "TRAILHOUND_EVENT_BUS"))
    sns_topic_arn: str | None = Field(None, validation_alias=_env("SNS_TOPIC_ARN", "TRAILHOUND_TOPIC_ARN"))
    security_hub_enabled: bool = Field(False, validation_alias=_env("SECURITY_HUB_ENABLED",
                                                                    "TRAILHOUND_SECURITY_HUB"))
    lateness: dt.timedelta = Field(dt.timedelta(minutes=20), validation_alias=_env("LATENESS"))
    settle: dt.timedelta = Field(dt.timedelta(minutes=5), validation_alias=_env("SETTLE"))
    max_window: dt.timedelta = Field(dt.timedelta(hours=6), validation_alias=_env("MAX_WINDOW"))
    dedup_period: dt.timedelta = Field(dt.timedelta(hours=24), validation_alias=_env("DEDUP_PERIOD"))
    late_check_horizon: dt.timedelta = Field(dt.timedelta(hours=6), validation_alias=_env("LATE_CHECK_HORIZON"))
    max_concurrency: int | None = Field(None, ge=1, le=50, validation_alias=_env("MAX_CONCURRENCY"))

    @field_validator("lateness", "settle", "max_window", "dedup_period", "late_check_horizon", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            m = _DURATION.match(value)
            if not m:
                raise ValueError(f"expected a duration such as 20m, 6h or a number of seconds, got {value!r}")
            return dt.timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
        return value

    @field_validator("sns_topic_arn", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return value or None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DetectSettings:
        """Validate the environment; a bad or missing variable is one line naming it."""
        env = dict(os.environ if environ is None else environ)
        try:
            return cls.model_validate(env)
        except ValidationError as exc:
            err = exc.errors()[0]
            name = str(err["loc"][0]) if err["loc"] else "environment"
            field = cls.model_fields.get(name)
            alias = field.validation_alias if field else None
            names = "/".join(str(c) for c in alias.choices) if isinstance(alias, AliasChoices) else name
            raise UserInputError(f"detect Lambda environment {names}: "
                                 f"{str(err['msg']).removeprefix('Value error, ')}") from None

    def scheduler_config(self) -> Any:
        from trailhound.scheduler.core import SchedulerConfig

        return SchedulerConfig(lateness=self.lateness, settle=self.settle, max_window=self.max_window,
                               dedup_period=self.dedup_period, late_check_horizon=self.late_check_horizon)


class DetectRequest(BaseModel):
    """Which detections this invocation covers (none given: all of them)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    schedule: str | None = Field(None, validation_alias=AliasChoices("schedule", "schedule_group"))
    detection_ids: list[str] | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any] | None) -> DetectRequest:
        payload: Any = event or {}
        if isinstance(payload.get("detail"), Mapping) and "detail-type" in payload:
            payload = payload["detail"]  # a scheduled event carrying the selection in its detail
        return cls.model_validate(dict(payload))


@dataclass
class Runtime:
    """What a warm container keeps: settings, the engine, the state table, the sinks, the pack."""

    settings: DetectSettings
    store: Any
    state: Any
    publisher: Any
    detections: list[Any]
    tuning: Any


def _account_region(context: LambdaContext | None) -> tuple[str | None, str | None]:
    arn = getattr(context, "invoked_function_arn", "") or ""
    parts = arn.split(":")
    if len(parts) >= 5 and parts[0] == "arn":
        return parts[4] or None, parts[3] or None
    return None, os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


@functools.cache
def runtime(account_id: str | None, region: str | None) -> Runtime:
    """Build once per container (cold start): validated settings, clients, detections."""
    import boto3

    from trailhound.config import load_settings
    from trailhound.detections.model import load_detections
    from trailhound.scheduler.publish import Publisher
    from trailhound.scheduler.state import DynamoDBState
    from trailhound.store import open_store

    settings = DetectSettings.from_env()
    session = boto3.Session(region_name=region) if region else boto3.Session()
    config = settings.scheduler_config()
    securityhub = None
    if settings.security_hub_enabled:
        if account_id is None:
            account_id = session.client("sts").get_caller_identity()["Account"]
        securityhub = session.client("securityhub")
    publisher = Publisher(
        events=session.client("events"), bus_name=settings.event_bus_name,
        sns=session.client("sns") if settings.sns_topic_arn else None, topic_arn=settings.sns_topic_arn,
        securityhub=securityhub, region=region or session.region_name, account_id=account_id)
    adopt_library_loggers()
    # The pack's SQL is not parsed here: the stack's synth parsed these very files
    # (infra/trailhound_infra/detections.py), and so do the tests. Parsing took ~0.8 s of each cold
    # start for 62 files, and one file that failed it failed the cold start, so every detection.
    # Now such a file fails alone when it runs, its window kept for the next cycle.
    return Runtime(settings=settings, store=open_store(settings.store),
                   state=DynamoDBState(settings.state_table, session.client("dynamodb"), config=config),
                   publisher=publisher, detections=load_detections(parse_sql=False), tuning=load_settings())


def select(detections: list[Any], request: DetectRequest) -> list[Any]:
    """The detections of the request's schedule group and/or ids (unknown ids are logged, skipped)."""
    chosen = detections
    if request.detection_ids:
        known = {d.id for d in detections}
        unknown = sorted(set(request.detection_ids) - known)
        if unknown:  # rule input and pack out of step: run the rest, say so loudly
            logger.error("detection_ids name detections this package does not have", extra={"unknown": unknown})
        wanted = set(request.detection_ids)
        chosen = [d for d in chosen if d.id in wanted]
    if request.schedule:
        chosen = [d for d in chosen if d.header.schedule == request.schedule]
    return chosen


def emit_metrics(result: Any) -> None:
    metrics.add_metric(name="Findings", unit=MetricUnit.Count, value=len(result.new_findings))
    metrics.add_metric(name="Queries", unit=MetricUnit.Count, value=result.queries)
    metrics.add_metric(name="BytesScanned", unit=MetricUnit.Bytes, value=result.bytes_scanned)
    metrics.add_metric(name="LateEvents", unit=MetricUnit.Count, value=result.late_events)
    metrics.add_metric(name="DetectionFailures", unit=MetricUnit.Count,
                       value=sum(1 for r in result.runs if r.status.value == "failed"))
    metrics.add_metric(name="PendingFindings", unit=MetricUnit.Count, value=result.pending)
    if result.max_lag is not None:
        metrics.add_metric(name="WatermarkLagSeconds", unit=MetricUnit.Seconds,
                           value=max(0.0, result.max_lag.total_seconds()))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from trailhound.scheduler.cycle import run_cycle

    request = DetectRequest.from_event(event)
    rt = runtime(*_account_region(context))
    detections = select(rt.detections, request)
    logger.append_keys(schedule=request.schedule or "all")
    result = run_cycle(rt.store, detections, rt.state, now=dt.datetime.now(dt.UTC),
                       config=rt.settings.scheduler_config(), settings=rt.tuning, publisher=rt.publisher,
                       max_concurrency=rt.settings.max_concurrency)
    emit_metrics(result)
    for f in result.new_findings:
        logger.info("new finding", extra={"finding_id": f.fingerprint, "detection": f.detection_id,
                                          "severity": f.severity.value, "actor": f.actor_arn})
    summary: dict[str, Any] = result.summary()
    summary["new_finding_ids"] = [f.fingerprint for f in result.new_findings]
    return summary
