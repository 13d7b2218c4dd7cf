"""The contain Lambda: a thin adapter around ``trailhound.containment.runner.run_containment``.

Input ``{"finding_id": str, "action": str, "params": {...}, "apply": bool}``. Changes are made
only if the input says ``apply`` AND env ``CONTAINMENT_MODE`` is ``approval`` or ``automatic``
(in approval mode the workflow calls this only after a person approved). Idempotent on
(finding_id, action, apply) through Powertools with a DynamoDB table (env ``IDEMPOTENCY_TABLE``,
partition key ``id``, TTL attribute ``expiration``); containment records go to env
``CONTAINMENT_TABLE`` (partition key ``id``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trailhound.containment.records import DynamoDBRecordStore
from trailhound.containment.runner import run_containment
from trailhound.handlers.observability import MetricUnit, logger, metrics, tracer
from trailhound.investigation.policy import ContainmentMode


class ContainSettings(BaseModel):
    """Validated once per cold start from the environment."""

    idempotency_table: str = Field(min_length=1)
    containment_table: str = Field(min_length=1)
    mode: ContainmentMode = ContainmentMode.DRY_RUN

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> Any:
        return str(value).strip().lower().replace("_", "-") if value else ContainmentMode.DRY_RUN

    @classmethod
    def from_env(cls) -> ContainSettings:
        return cls.model_validate({
            "idempotency_table": os.environ.get("IDEMPOTENCY_TABLE", ""),
            "containment_table": os.environ.get("CONTAINMENT_TABLE", ""),
            "mode": os.environ.get("CONTAINMENT_MODE", "dry-run"),
        })


class ContainRequest(BaseModel):
    """``{finding_id, action, params, apply}``; the investigation state (``finding`` +
    ``decision``) is accepted too, so the workflow's Contain task can pass its state as is."""

    model_config = ConfigDict(extra="ignore")

    finding_id: str = Field(min_length=1)
    action: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    apply: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_workflow_state(cls, data: Any) -> Any:
        if isinstance(data, dict) and "finding_id" not in data and isinstance(data.get("decision"), dict):
            finding = data.get("finding") or {}
            decision = data["decision"]
            return {"finding_id": finding.get("id") if isinstance(finding, dict) else None,
                    "action": decision.get("action"), "params": decision.get("params") or {},
                    "apply": bool(decision.get("apply", False))}
        return data


IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="[finding_id, action, apply]",  # a dry run must not answer a later apply
    payload_validation_jmespath="params",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=24 * 3600,
)


@functools.cache
def _contain() -> Callable[..., dict[str, Any]]:
    settings = ContainSettings.from_env()
    session: Any = boto3.Session()  # a ClientFactory; boto3-stubs types each client overload
    records = DynamoDBRecordStore(session.client("dynamodb"), settings.containment_table)
    persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_session=session)

    @idempotent_function(data_keyword_argument="request", config=IDEMPOTENCY, persistence_store=persistence)
    def contain(request: ContainRequest) -> dict[str, Any]:
        apply = request.apply and settings.mode is not ContainmentMode.DRY_RUN
        result = run_containment(request.action, request.params, finding_id=request.finding_id,
                                 apply=apply, session=session, records=records)
        result["containment_mode"] = settings.mode.value
        result["apply_requested"] = request.apply
        return result

    return contain


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ContainRequest.model_validate(event)
    logger.set_correlation_id(request.finding_id)
    IDEMPOTENCY.register_lambda_context(context)
    result = _contain()(request=request)
    metrics.add_dimension(name="action", value=request.action)
    metrics.add_metric(name=f"Containment_{result['status']}", unit=MetricUnit.Count, value=1)
    logger.info("containment", extra={"action": request.action, "status": result["status"],
                                      "containment_id": result.get("containment_id")})
    return result
