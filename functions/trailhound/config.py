"""Tuning that lives outside query text: protected principals, allowlists, known accounts.

Read from ``trailhound.yaml`` in the working directory, or the file named by
``$TRAILHOUND_CONFIG``; environment variables override single settings
(``TRAILHOUND_PROTECTED_PRINCIPALS``, ``TRAILHOUND_KNOWN_ACCOUNTS``, comma-separated).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trailhound.errors import UserInputError

# TrailHound's own roles are always protected, whatever the configuration says.
OWN_ROLE_PATTERNS = ("arn:aws:iam::*:role/TrailHound*", "arn:aws:iam::*:role/trailhound*",
                     "arn:aws:sts::*:assumed-role/TrailHound*", "arn:aws:sts::*:assumed-role/trailhound*")


class DetectionTuning(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True
    allow_principals: tuple[str, ...] = ()  # ARN globs whose activity this detection ignores
    allow_source_ips: tuple[str, ...] = ()
    threshold: int | None = None  # overrides the header's threshold


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    protected_principals: tuple[str, ...] = ()
    known_accounts: tuple[str, ...] = ()  # accounts that may receive shares (snapshots, AMIs, invoke)
    regions_in_use: tuple[str, ...] = ()  # empty: learn from the store
    containment_mode: str = Field(default="dry-run", pattern="^(dry-run|approval|automatic)$")
    detections: dict[str, DetectionTuning] = Field(default_factory=dict)

    def protected_patterns(self) -> tuple[str, ...]:
        return OWN_ROLE_PATTERNS + self.protected_principals


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Load settings; a malformed file is reported with its path and the offending field."""
    candidate = Path(path or os.environ.get("TRAILHOUND_CONFIG") or "trailhound.yaml")
    data: dict[str, Any] = {}
    if candidate.exists():
        try:
            loaded = yaml.safe_load(candidate.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise UserInputError(f"{candidate}: not valid YAML ({exc})") from exc
        if not isinstance(loaded, dict):
            raise UserInputError(f"{candidate}: expected a mapping of settings at the top level")
        data = loaded
    elif path:
        raise UserInputError(f"{candidate}: no such configuration file")
    env_protected = _split(os.environ.get("TRAILHOUND_PROTECTED_PRINCIPALS"))
    if env_protected:
        data["protected_principals"] = tuple(data.get("protected_principals", ())) + env_protected
    env_known = _split(os.environ.get("TRAILHOUND_KNOWN_ACCOUNTS"))
    if env_known:
        data["known_accounts"] = tuple(data.get("known_accounts", ())) + env_known
    if os.environ.get("TRAILHOUND_CONTAINMENT_MODE"):
        data["containment_mode"] = os.environ["TRAILHOUND_CONTAINMENT_MODE"]
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise UserInputError(f"{candidate}: field {field}: {err['msg']}") from None


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()
