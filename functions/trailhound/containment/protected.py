"""Protected principals: ARN glob patterns that no containment action may touch.

Sources, all combined: TrailHound's own roles and functions (always), roles and functions named
with the configured stack prefix (env ``TRAILHOUND_STACK_PREFIX``), env ``TRAILHOUND_PROTECTED_PRINCIPALS``
(comma-separated) and patterns passed by the caller (config). Matching is ``fnmatch``-style
(``*`` also matches ``/`` and ``:``) and case-insensitive, which errs towards protecting. For
IAM users and roles the path-less ARN is checked as well, so ``role/TrailHound*`` also covers
``role/service-role/TrailHoundX``.

    >>> is_protected("arn:aws:iam::123456789012:role/TrailHoundContainRole")
    True
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase

from trailhound.errors import UserInputError

ENV_PATTERNS = "TRAILHOUND_PROTECTED_PRINCIPALS"
ENV_STACK_PREFIX = "TRAILHOUND_STACK_PREFIX"

ALWAYS_PROTECTED: tuple[str, ...] = (
    "arn:aws:iam::*:role/TrailHound*",
    "arn:aws:iam::*:role/trailhound*",
    # TrailHound's own functions: containment must never disable the responder.
    "arn:aws:lambda:*:*:function:TrailHound*",
    "arn:aws:lambda:*:*:function:trailhound*",
)


def _split(value: str, source: str) -> list[str]:
    patterns = [p.strip() for p in value.split(",") if p.strip()]
    for p in patterns:
        if not p.lower().startswith("arn:"):
            raise UserInputError(f"{source}: {p!r} is not an ARN pattern (expected e.g. arn:aws:iam::*:role/Admin*)")
    return patterns


def protected_patterns(extra_patterns: Iterable[str] = ()) -> tuple[str, ...]:
    """All patterns in force: always-protected, stack prefix, env, then ``extra_patterns``."""
    patterns = list(ALWAYS_PROTECTED)
    prefix = os.environ.get(ENV_STACK_PREFIX, "").strip()
    if prefix:
        patterns.append(f"arn:aws:iam::*:role/{prefix}*")
        patterns.append(f"arn:aws:lambda:*:*:function:{prefix}*")
    patterns.extend(_split(os.environ.get(ENV_PATTERNS, ""), ENV_PATTERNS))
    for p in extra_patterns:
        patterns.extend(_split(p, "protected principal pattern"))
    return tuple(dict.fromkeys(patterns))


def _candidates(arn: str) -> list[str]:
    """The ARN, plus its path-less form for IAM users and roles."""
    out = [arn]
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "iam":
        kind, _, rest = parts[5].partition("/")
        if kind in ("user", "role") and "/" in rest:
            out.append(":".join(parts[:5]) + f":{kind}/{rest.rsplit('/', 1)[1]}")
    return out


def _match(value: str, pattern: str) -> bool:
    return fnmatchcase(value.lower(), pattern.lower())


def matching_pattern(arn: str, extra_patterns: Iterable[str] = ()) -> str | None:
    """The first protected pattern that ``arn`` matches, or None."""
    patterns = protected_patterns(extra_patterns)
    for candidate in _candidates(arn):
        for pattern in patterns:
            if _match(candidate, pattern):
                return pattern
    return None


def is_protected(arn: str, extra_patterns: Iterable[str] = ()) -> bool:
    """True if no containment may act on ``arn``. Pure: reads env, makes no AWS call."""
    return matching_pattern(arn, extra_patterns) is not None


ACCOUNT_PLACEHOLDER = "{account}"


def matching_pattern_lazy_account(
    arn_template: str, account: Callable[[], str], extra_patterns: Iterable[str] = ()
) -> str | None:
    """Like ``matching_pattern`` for an ARN whose account is not known yet.

    ``arn_template`` holds ``{account}`` in the account field. The account (an STS call) is
    resolved only if some pattern names a specific account and could match otherwise, so with
    account-wildcard patterns the decision needs no AWS call at all.
    """
    if ACCOUNT_PLACEHOLDER not in arn_template:
        return matching_pattern(arn_template, extra_patterns)
    patterns = protected_patterns(extra_patterns)
    needs_account: list[str] = []
    for pattern in patterns:
        parts = pattern.split(":", 5)
        account_glob = parts[4] if len(parts) == 6 else "*"
        any_account = "*" if account_glob in ("*", "") else None
        if any_account:
            for candidate in _candidates(arn_template.replace(ACCOUNT_PLACEHOLDER, "*")):
                if _match(candidate, pattern):
                    return pattern
        else:
            generic = ":".join(parts[:4] + ["*", parts[5]]) if len(parts) == 6 else pattern
            if any(_match(c, generic) for c in _candidates(arn_template.replace(ACCOUNT_PLACEHOLDER, "*"))):
                needs_account.append(pattern)
    if needs_account:
        arn = arn_template.replace(ACCOUNT_PLACEHOLDER, account())
        for pattern in needs_account:
            if any(_match(c, pattern) for c in _candidates(arn)):
                return pattern
    return None
