"""Lambda containment: remove resource-policy statements that let the public or unknown accounts in."""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError
from pydantic import Field

from trailhound.containment.actions.ec2 import known_accounts
from trailhound.containment.base import Action, ActionParams, CommaList
from trailhound.containment.models import ContainmentRecord, Plan, Result, ResultStatus, Reversibility
from trailhound.containment.registry import register

# Condition keys add_permission can express, mapped to its argument names (keys lower-cased).
_ADD_PERMISSION_CONDITIONS = {
    "aws:sourcearn": "SourceArn",
    "aws:sourceaccount": "SourceAccount",
    "aws:principalorgid": "PrincipalOrgID",
    "lambda:functionurlauthtype": "FunctionUrlAuthType",
    "lambda:eventsourcetoken": "EventSourceToken",
}


class FunctionParams(ActionParams):
    function_name: str = Field(
        pattern=r"^(arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:)?[\w-]{1,64}(:[\w$-]+)?$",
        description="Lambda function name or ARN, e.g. report-generator")
    qualifier: str | None = Field(default=None, pattern=r"^[\w$-]{1,128}$",
                                  description="version or alias whose policy to clean (default: the function)")
    known_accounts: CommaList = Field(
        default_factory=list,
        description="12-digit account ids allowed to invoke, comma-separated "
                    "(plus this account and env TRAILHOUND_KNOWN_ACCOUNTS)")


def _principals(stmt: dict[str, Any]) -> list[tuple[str, str]]:
    principal = stmt.get("Principal")
    if isinstance(principal, str):
        return [("Service" if principal.endswith(".amazonaws.com") else "AWS", principal)]
    out: list[tuple[str, str]] = []
    for kind, values in (principal or {}).items():
        for value in values if isinstance(values, list) else [values]:
            out.append((str(kind), str(value)))
    return out


def _conditions(stmt: dict[str, Any]) -> dict[str, list[str]]:
    """Condition keys (lower-cased) to values; moto also puts FunctionUrlAuthType at top level."""
    out: dict[str, list[str]] = {}
    for block in (stmt.get("Condition") or {}).values():
        for key, values in block.items():
            out.setdefault(key.lower(), []).extend(values if isinstance(values, list) else [values])
    if "FunctionUrlAuthType" in stmt:
        out.setdefault("lambda:functionurlauthtype", []).append(str(stmt["FunctionUrlAuthType"]))
    return out


def _account(value: str) -> str | None:
    if re.fullmatch(r"\d{12}", value):
        return value
    parts = value.split(":")
    return parts[4] if value.startswith("arn:") and len(parts) > 4 and parts[4] else None


def exposure(stmt: dict[str, Any], known: set[str]) -> str | None:
    """Why an Allow statement opens the function to the public or an unknown account, else None."""
    if stmt.get("Effect", "Allow") != "Allow":
        return None
    conds = _conditions(stmt)
    source_accounts = conds.get("aws:sourceaccount", []) + conds.get("aws:sourceowner", []) + [
        a for a in (_account(v) for v in conds.get("aws:sourcearn", [])) if a]
    unknown_sources = sorted({a for a in source_accounts if a not in known})
    for kind, value in _principals(stmt):
        if value == "*" or kind == "*":
            if unknown_sources:
                return f"anyone, restricted to unknown account {', '.join(unknown_sources)}"
            if conds.get("aws:principalorgid") or source_accounts or conds.get("aws:sourcearn"):
                continue
            url = conds.get("lambda:functionurlauthtype", [])
            return "public: anyone" + (" through the function URL without authentication" if "NONE" in url else "")
        if kind == "AWS":
            acct = _account(value)
            if acct not in known:
                return f"unknown account {acct or value}"
        elif unknown_sources:
            return f"{value} on behalf of unknown account {', '.join(unknown_sources)}"
    return None


def add_permission_args(stmt: dict[str, Any]) -> dict[str, Any] | None:
    """AddPermission arguments that re-create ``stmt``, or None if its shape cannot be expressed."""
    action = stmt.get("Action")
    principals = _principals(stmt)
    if not isinstance(action, str) or len(principals) != 1 or not stmt.get("Sid"):
        return None
    kind, value = principals[0]
    args: dict[str, Any] = {"StatementId": stmt["Sid"], "Action": action,
                            "Principal": _account(value) if kind == "AWS" and _account(value) else value}
    for key, values in _conditions(stmt).items():
        name = _ADD_PERMISSION_CONDITIONS.get(key)
        if name is None or len(values) != 1:
            return None
        args[name] = values[0]
    return args


@register
class RemovePublicFunctionPolicy(Action[FunctionParams]):
    """Remove Lambda resource-policy statements that let anyone, or an account that is not
    known, invoke the function (including public function URLs); save them for rollback.

    Example::

        trailhound contain remove_public_function_policy --param function_name=report-generator \\
            --param known_accounts=111122223333 --apply
    """

    name = "remove_public_function_policy"
    Params = FunctionParams
    reversibility = Reversibility.PARTIAL  # statements AddPermission cannot express are only saved
    permissions = ("lambda:GetFunctionConfiguration", "lambda:GetPolicy", "lambda:RemovePermission")
    rollback_permissions = ("lambda:AddPermission", "lambda:GetPolicy")

    def target_arns(self, params: FunctionParams) -> list[str]:
        if params.function_name.startswith("arn:"):
            return [params.function_name]
        return [self.arn_template("lambda", f"function:{params.function_name}")]

    @property
    def awslambda(self) -> Any:
        return self.aws.client("lambda")

    def _qualified(self, p: FunctionParams) -> dict[str, Any]:
        return {"FunctionName": p.function_name, **({"Qualifier": p.qualifier} if p.qualifier else {})}

    def _statements(self, p: FunctionParams) -> tuple[str, list[dict[str, Any]]]:
        label = f"Lambda function {p.function_name!r}" + (f" qualifier {p.qualifier!r}" if p.qualifier else "")
        with self.aws.call(self.name, "GetFunctionConfiguration", resource=label):
            arn = str(self.awslambda.get_function_configuration(**self._qualified(p))["FunctionArn"])
        self.ensure_not_protected(arn)
        try:
            policy = json.loads(self.awslambda.get_policy(**self._qualified(p))["Policy"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return arn, []  # no resource policy at all
            raise
        return arn, [dict(s) for s in policy.get("Statement", [])]

    def _exposed(self, p: FunctionParams, statements: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
        known = known_accounts(p.known_accounts, self.aws.account_id())
        out = []
        for stmt in statements:
            why = exposure(stmt, known)
            if why:
                out.append((stmt, why))
        return out

    def _plan(self, p: FunctionParams) -> Plan:
        arn, statements = self._statements(p)
        exposed = self._exposed(p, statements)
        return Plan(
            action=self.name, targets=[arn], already_contained=not exposed,
            changes=[f"remove statement {s.get('Sid')!r} ({why}) from the policy of {p.function_name}"
                     for s, why in exposed],
            irreversible=[f"statement {s.get('Sid')!r} cannot be re-created by AddPermission; rollback will "
                          "not re-add it (it stays in the record)"
                          for s, _ in exposed if add_permission_args(s) is None],
            notes=["statements for AWS services with a known source, and for known accounts, are kept"],
            current_state={"statements": statements},
        )

    def _apply(self, p: FunctionParams, record: ContainmentRecord) -> Result:
        _, statements = self._statements(p)
        exposed = self._exposed(p, statements)
        if not exposed:
            return Result(status=ResultStatus.ALREADY_CONTAINED,
                          message=f"the policy of {p.function_name} grants nothing to the public or unknown accounts")
        record.save_before_state(removed_statements=[s for s, _ in exposed])
        changes = []
        for stmt, why in exposed:
            try:
                self.awslambda.remove_permission(StatementId=stmt["Sid"], **self._qualified(p))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
            changes.append(f"removed statement {stmt['Sid']!r} ({why})")
        return Result(status=ResultStatus.APPLIED, changes=changes)

    def _rollback(self, p: FunctionParams, record: ContainmentRecord) -> Result:
        removed = record.before_state.get("removed_statements")
        if not removed:
            return Result(status=ResultStatus.NOTHING_TO_ROLL_BACK, message="apply changed nothing")
        _, current = self._statements(p)
        present = {s.get("Sid") for s in current}
        changes, skipped = [], []
        for stmt in removed:
            args = add_permission_args(stmt)
            if stmt.get("Sid") in present:
                changes.append(f"statement {stmt.get('Sid')!r} is already present")
            elif args is None:
                skipped.append(str(stmt.get("Sid")))
            else:
                self.awslambda.add_permission(**args, **({"Qualifier": p.qualifier} if p.qualifier else {}),
                                              FunctionName=p.function_name)
                changes.append(f"re-added statement {stmt['Sid']!r}")
        return Result(status=ResultStatus.ROLLED_BACK, changes=changes,
                      message=f"not re-added (saved in the record): {', '.join(skipped)}" if skipped else "")
