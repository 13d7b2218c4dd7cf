"""Deployment settings, read once from CDK context and validated.

Context comes from ``cdk.json`` (JSON types) or ``cdk synth -c key=value`` (always strings), so
every value is normalised here and a bad one is reported naming the context key.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

from constructs import Construct

# Commercial Regions a multi-Region trail writes to (the Athena table projects over these).
DEFAULT_TRAIL_REGIONS: tuple[str, ...] = (
    "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
    "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-central-1",
    "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2",
    "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1",
    "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
)

_EDS = re.compile(r"^(arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:\d{12}:eventdatastore/)?[A-Za-z0-9-]{3,}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


class ContainmentMode(enum.StrEnum):
    DRY_RUN = "dry-run"
    APPROVAL = "approval"
    AUTOMATIC = "automatic"


class ContextError(ValueError):
    """A context value that cannot be used; the message names the key and what was expected."""


@dataclass(frozen=True)
class Settings:
    stack_name: str = "TrailHound"
    event_data_store_id: str | None = None  # set: CloudTrail Lake engine; unset: Athena engine
    notification_email: str | None = None
    security_hub: bool = False
    containment_mode: ContainmentMode = ContainmentMode.DRY_RUN
    protected_principals: tuple[str, ...] = ()
    notebook: bool = True
    notebook_internet: bool = False
    athena_bytes_scanned_cutoff_gb: int = 10
    trail_retention_days: int = 365
    log_retention_days: int = 30
    retain_data: bool = False
    skip_dependency_bundling: bool = False
    trail_regions: tuple[str, ...] = field(default=DEFAULT_TRAIL_REGIONS)

    @property
    def uses_lake(self) -> bool:
        return self.event_data_store_id is not None

    @classmethod
    def from_context(cls, scope: Construct) -> Settings:
        def get(key: str) -> Any:
            return scope.node.try_get_context(key)

        mode_raw = _text(get("containmentMode"), "containmentMode") or ContainmentMode.DRY_RUN.value
        try:
            mode = ContainmentMode(mode_raw)
        except ValueError:
            raise ContextError(f"context containmentMode: {mode_raw!r} is not one of "
                               + ", ".join(m.value for m in ContainmentMode)) from None
        eds = _text(get("eventDataStoreId"), "eventDataStoreId")
        if eds is not None and not _EDS.match(eds):
            raise ContextError(f"context eventDataStoreId: {eds!r} is not an event data store id or ARN")
        email = _text(get("notificationEmail"), "notificationEmail")
        if email is not None and not _EMAIL.match(email):
            raise ContextError(f"context notificationEmail: {email!r} is not an e-mail address")
        principals = _list(get("protectedPrincipals"), "protectedPrincipals")
        for p in principals:
            if not p.lower().startswith("arn:"):
                raise ContextError(f"context protectedPrincipals: {p!r} is not an ARN pattern "
                                   "(expected e.g. arn:aws:iam::*:role/Admin*)")
        regions = _list(get("trailRegions"), "trailRegions") or DEFAULT_TRAIL_REGIONS
        bad = [r for r in regions if not _REGION.match(r)]
        if bad:
            raise ContextError(f"context trailRegions: not Region names: {', '.join(bad)}")
        stack_name = _text(get("stackName"), "stackName") or "TrailHound"
        if not re.match(r"^[A-Za-z][A-Za-z0-9-]{0,100}$", stack_name):
            raise ContextError(f"context stackName: {stack_name!r} is not a valid stack name")
        return cls(
            stack_name=stack_name,
            event_data_store_id=eds,
            notification_email=email,
            security_hub=_bool(get("securityHub"), "securityHub", False),
            containment_mode=mode,
            protected_principals=principals,
            notebook=_bool(get("notebook"), "notebook", True),
            notebook_internet=_bool(get("notebookInternet"), "notebookInternet", False),
            athena_bytes_scanned_cutoff_gb=_int(get("athenaBytesScannedCutoffGb"),
                                                "athenaBytesScannedCutoffGb", 10, minimum=1),
            trail_retention_days=_int(get("trailRetentionDays"), "trailRetentionDays", 365, minimum=1),
            log_retention_days=_int(get("logRetentionDays"), "logRetentionDays", 30, minimum=1),
            retain_data=_bool(get("retainData"), "retainData", False),
            skip_dependency_bundling=_bool(get("skipDependencyBundling"), "skipDependencyBundling", False),
            trail_regions=tuple(sorted(set(regions))),
        )


def _text(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ContextError(f"context {key}: expected a string, got {type(value).__name__}")
    return value.strip() or None


def _bool(value: Any, key: str, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ContextError(f"context {key}: expected true or false, got {value!r}")


def _int(value: Any, key: str, default: int, *, minimum: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ContextError(f"context {key}: expected a whole number, got {value!r}") from None
    if number < minimum:
        raise ContextError(f"context {key}: expected at least {minimum}, got {number}")
    return number


def _list(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = value
    else:
        raise ContextError(f"context {key}: expected a comma-separated string or a list of strings")
    return tuple(dict.fromkeys(i.strip() for i in items if i.strip()))
