"""The action base class: parameter schema, protected-principal gate, plan / apply / rollback.

A subclass declares ``name``, ``Params`` (a pydantic model), ``permissions`` (IAM actions that
plan and apply need: the CDK containment role is built from these), ``rollback_permissions``
(what an operator additionally needs to roll back; not granted to the automated role), and
implements ``target_arns``, ``_plan``, ``_apply`` and ``_rollback``. The public methods validate
parameters, refuse protected principals before any AWS call, and turn AWS errors into one-line
``ContainmentError``s.
"""

from __future__ import annotations

import inspect
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from trailhound.containment.aws import AwsContext, error_code, one_line
from trailhound.containment.errors import (
    ContainmentAwsError,
    ContainmentParamError,
    ProtectedPrincipalError,
)
from trailhound.containment.models import ContainmentRecord, Plan, Result, Reversibility
from trailhound.containment.protected import (
    ACCOUNT_PLACEHOLDER,
    matching_pattern,
    matching_pattern_lazy_account,
)


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"expected JSON ({exc.msg} at position {exc.pos})") from None
    return value


CommaList = Annotated[list[str], BeforeValidator(_split_list)]
"""A list parameter; from the CLI it is given comma-separated (``k=a,b``)."""

JsonList = Annotated[list[dict[str, Any]], BeforeValidator(_json_value)]
"""A list of objects; from the CLI it is given as JSON text."""


class ActionParams(BaseModel):
    """Base of every action's parameter schema: unknown parameters are errors."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


P = TypeVar("P", bound=ActionParams)


@contextmanager
def translate_aws_errors(action: str) -> Iterator[None]:
    """Any AWS error not already named by the action becomes one line with its code."""
    try:
        yield
    except ClientError as exc:
        message = one_line(exc.response.get("Error", {}).get("Message", "") or "")
        raise ContainmentAwsError(
            f"{action}: AWS {exc.operation_name} failed: {error_code(exc)}: {message}".rstrip(": ")
        ) from exc
    except BotoCoreError as exc:
        raise ContainmentAwsError(f"{action}: AWS call failed: {one_line(exc)}") from exc


def _param_error(action: str, model: type[BaseModel], exc: ValidationError) -> ContainmentParamError:
    fields = model.model_fields
    parts: list[str] = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(parameters)"
        top = str(err["loc"][0]) if err["loc"] else ""
        desc = fields[top].description if top in fields else None
        if err["type"] == "missing":
            parts.append(f"missing parameter {loc!r}" + (f" ({desc})" if desc else ""))
        elif err["type"] == "extra_forbidden":
            parts.append(f"unknown parameter {loc!r} (valid: {', '.join(fields)})")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            parts.append(
                f"parameter {loc!r}={err.get('input')!r} is malformed: {msg}"
                + (f" (expected {desc})" if desc else "")
            )
    return ContainmentParamError(f"{action}: " + "; ".join(parts))


class Action(ABC, Generic[P]):
    """A named containment action. See the module docstring."""

    name: ClassVar[str]
    Params: ClassVar[type[ActionParams]]
    permissions: ClassVar[tuple[str, ...]]
    rollback_permissions: ClassVar[tuple[str, ...]] = ()
    reversibility: ClassVar[Reversibility] = Reversibility.FULL

    def __init__(self, aws: AwsContext, protected_patterns: Iterable[str] = ()):
        self.aws = aws
        self.protected_patterns = tuple(protected_patterns)

    # -- description ---------------------------------------------------------------------
    @classmethod
    def summary(cls) -> str:
        """The docstring's first sentence, on one line."""
        first = " ".join((inspect.getdoc(cls) or "").strip().split("\n\n", 1)[0].split())
        return re.split(r"(?<=\.)\s+(?=[A-Z])", first, maxsplit=1)[0]

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "name": cls.name,
            "summary": cls.summary(),
            "reversibility": cls.reversibility.value,
            "parameters": [
                {
                    "name": fname,
                    "required": field.is_required(),
                    "default": None if field.is_required() else field.get_default(call_default_factory=True),
                    "description": field.description or "",
                }
                for fname, field in cls.Params.model_fields.items()
            ],
            "permissions": list(cls.permissions),
            "rollback_permissions": list(cls.rollback_permissions),
        }

    # -- parameters and the protected gate ----------------------------------------------
    def parse_params(self, raw: Mapping[str, Any] | ActionParams) -> P:
        if isinstance(raw, self.Params):
            return raw  # type: ignore[return-value]
        data = raw.model_dump() if isinstance(raw, BaseModel) else dict(raw)
        try:
            return self.Params.model_validate(data)  # type: ignore[return-value]
        except ValidationError as exc:
            raise _param_error(self.name, self.Params, exc) from None

    @abstractmethod
    def target_arns(self, params: P) -> list[str]:
        """ARNs acted on, computed WITHOUT AWS calls; ``{account}`` stands for the account id."""

    def arn_template(self, service: str, resource: str, *, regional: bool = True, account: bool = True) -> str:
        region = self.aws.region if regional else ""
        acct = ACCOUNT_PLACEHOLDER if account else ""
        return f"arn:{self.aws.partition}:{service}:{region}:{acct}:{resource}"

    def refuse_protected(self, params: P) -> None:
        """Raise ``ProtectedPrincipalError`` if a target is protected. No AWS call unless a
        pattern names a specific account (then only STS GetCallerIdentity)."""
        for template in self.target_arns(params):
            pattern = matching_pattern_lazy_account(template, self._account_for_check, self.protected_patterns)
            if pattern:
                shown = template.replace(ACCOUNT_PLACEHOLDER, "*")
                raise ProtectedPrincipalError(
                    f"{self.name}: refused: {shown} is a protected principal (matches {pattern})"
                )

    def _account_for_check(self) -> str:
        try:
            return self.aws.account_id()
        except ContainmentAwsError as exc:
            raise ProtectedPrincipalError(
                f"{self.name}: refused: cannot tell whether the target is protected: {exc}"
            ) from exc

    def ensure_not_protected(self, arn: str) -> None:
        """Check an ARN learned from AWS (e.g. with its IAM path) before changing anything."""
        pattern = matching_pattern(arn, self.protected_patterns)
        if pattern:
            raise ProtectedPrincipalError(f"{self.name}: refused: {arn} is a protected principal (matches {pattern})")

    def resolve(self, template: str) -> str:
        return template.replace(ACCOUNT_PLACEHOLDER, self.aws.account_id()) if ACCOUNT_PLACEHOLDER in template else template

    # -- the three operations -------------------------------------------------------------
    def plan(self, params: Mapping[str, Any] | ActionParams) -> Plan:
        """Read-only: what ``apply`` would change, and what rollback could not restore."""
        p = self.parse_params(params)
        self.refuse_protected(p)
        with translate_aws_errors(self.name):
            return self._plan(p)

    def apply(self, params: Mapping[str, Any] | ActionParams, record: ContainmentRecord) -> Result:
        """Idempotent: saves the before-state in ``record`` before changing anything."""
        p = self.parse_params(params)
        self.refuse_protected(p)
        with translate_aws_errors(self.name):
            return self._apply(p, record)

    def rollback(self, record: ContainmentRecord) -> Result:
        """Restore the before-state saved in ``record``."""
        p = self.parse_params(record.params)
        with translate_aws_errors(self.name):
            return self._rollback(p, record)

    @abstractmethod
    def _plan(self, params: P) -> Plan: ...

    @abstractmethod
    def _apply(self, params: P, record: ContainmentRecord) -> Result: ...

    @abstractmethod
    def _rollback(self, params: P, record: ContainmentRecord) -> Result: ...
