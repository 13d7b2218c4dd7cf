"""The one workflow definition (``workflow.asl.json``) and its substitutions.

CDK passes the function ARNs as ``definitionSubstitutions``; the local runner and the tests
substitute step names or moto's function ARNs. The file stays plain JSON: every ``${...}`` is
a whole string value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFINITION_PATH = Path(__file__).with_name("workflow.asl.json")
# Substitution name → the step (and Lambda handler) that serves it.
FUNCTION_SUBSTITUTIONS: dict[str, str] = {
    "EnrichFunctionArn": "enrich",
    "DecideFunctionArn": "decide",
    "RequestApprovalFunctionArn": "request_approval",
    "ContainFunctionArn": "contain",
    "VerifyFunctionArn": "verify",
    "NotifyFunctionArn": "notify",
}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z]+)\}")


def definition_text() -> str:
    return DEFINITION_PATH.read_text(encoding="utf-8")


def render(substitutions: Mapping[str, str]) -> str:
    """The definition with every ``${Name}`` replaced; a missing substitution is an error."""
    text = definition_text()
    missing = sorted(set(_PLACEHOLDER.findall(text)) - set(substitutions))
    if missing:
        raise KeyError(f"workflow definition needs substitutions for: {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: substitutions[m.group(1)], text)


def load(substitutions: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The parsed definition; by default each function placeholder becomes its step name."""
    subs = substitutions or FUNCTION_SUBSTITUTIONS
    return json.loads(render(subs))  # type: ignore[no-any-return]
