"""Lambda handlers for the investigation's steps: thin adapters over ``investigation.steps``.

One module, one handler per step (``trailhound.handlers.investigate.enrich`` ...). The
``contain`` step of the state machine is the contain Lambda (``trailhound.handlers.contain``),
which adds idempotency on (finding, action). Settings are read from the environment once per
cold start and validated.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from trailhound.containment.records import DynamoDBRecordStore
from trailhound.investigation.policy import ContainmentMode, Policy
from trailhound.investigation.records import DynamoDBInvestigationStore
from trailhound.investigation.steps import STEPS, StepContext
from trailhound.output import to_jsonable
from trailhound.store import open_store

logger = Logger(service="trailhound-investigate")
tracer = Tracer(service="trailhound-investigate")


class InvestigateSettings(BaseModel):
    model_config = ConfigDict(frozen=True)
    store: str = Field(min_length=1)
    containment_table: str = Field(min_length=1)
    investigations_table: str = Field(min_length=1)
    topic_arn: str | None = None
    mode: ContainmentMode = ContainmentMode.DRY_RUN
    protected: tuple[str, ...] = ()
    verify_wait_seconds: int = 300
    approval_timeout_seconds: int = 86400

    @classmethod
    def from_env(cls) -> InvestigateSettings:
        env = os.environ
        return cls(
            store=env.get("TRAILHOUND_STORE", ""),
            containment_table=env.get("CONTAINMENT_TABLE", ""),
            investigations_table=env.get("INVESTIGATIONS_TABLE", ""),
            topic_arn=env.get("SNS_TOPIC_ARN") or None,
            mode=ContainmentMode(env.get("CONTAINMENT_MODE", "dry-run")),
            protected=tuple(p.strip() for p in env.get("TRAILHOUND_PROTECTED_PRINCIPALS", "").split(",") if p.strip()),
            verify_wait_seconds=int(env.get("VERIFY_WAIT_SECONDS", "300")),
            approval_timeout_seconds=int(env.get("APPROVAL_TIMEOUT_SECONDS", "86400")),
        )


def _sns_notifier(client: Any, topic_arn: str | None) -> Any:
    def notify(kind: str, body: dict[str, Any]) -> None:
        logger.info("notification", extra={"kind": kind, **to_jsonable(body)})
        if topic_arn:
            import json

            client.publish(TopicArn=topic_arn, Subject=f"TrailHound: {kind.replace('_', ' ')}"[:99],
                           Message=json.dumps(to_jsonable(body), indent=2))

    return notify


@functools.cache
def context() -> StepContext:
    """Built once per cold start from validated settings."""
    settings = InvestigateSettings.from_env()
    session = boto3.Session()
    return StepContext(
        store=open_store(settings.store),
        session=session,
        containment_records=DynamoDBRecordStore(session.client("dynamodb"), settings.containment_table),
        investigations=DynamoDBInvestigationStore(session.client("dynamodb"), settings.investigations_table),
        policy=Policy(mode=settings.mode, protected_patterns=settings.protected,
                      verify_wait_seconds=settings.verify_wait_seconds,
                      approval_timeout_seconds=settings.approval_timeout_seconds),
        notify=_sns_notifier(session.client("sns"), settings.topic_arn),
    )


def _step(name: str, event: dict[str, Any]) -> dict[str, Any]:
    inv_id = event.get("investigation_id")
    if inv_id:
        logger.append_keys(investigation_id=inv_id, finding_id=(event.get("finding") or {}).get("id"))
    return STEPS[name](context(), event)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def enrich(event: dict[str, Any], _ctx: LambdaContext) -> dict[str, Any]:
    return _step("enrich", event)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def decide(event: dict[str, Any], _ctx: LambdaContext) -> dict[str, Any]:
    return _step("decide", event)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def request_approval(event: dict[str, Any], _ctx: LambdaContext) -> dict[str, Any]:
    return _step("request_approval", event)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def verify(event: dict[str, Any], _ctx: LambdaContext) -> dict[str, Any]:
    return _step("verify", event)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def notify(event: dict[str, Any], _ctx: LambdaContext) -> dict[str, Any]:
    return _step("notify", event)
