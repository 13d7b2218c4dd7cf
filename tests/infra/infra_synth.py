"""Synthesize the CDK app once per variant per test run (shared by xdist workers via a lock).

Imported by ``conftest.py`` and the tests as ``infra_synth`` (a unique module name).

Both variants run with ``skipDependencyBundling=true`` (no network: the Lambda asset holds only
our source) and with the same Aspects as ``infra/app.py``, cdk-nag included.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra"))
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

EDS_ID = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
VARIANTS: dict[str, dict[str, Any]] = {
    # The default deployment: Athena engine, isolated notebook, dry-run.
    "athena": {},
    # An existing Lake customer, with every optional feature switched on.
    "lake": {
        "eventDataStoreId": EDS_ID,
        "notificationEmail": "soc@example.com",
        "securityHub": "true",
        "containmentMode": "approval",
        "protectedPrincipals": "arn:aws:iam::*:role/BreakGlass*,arn:aws:sts::*:assumed-role/Admin/*",
        "notebookInternet": "true",
    },
}


@dataclass(frozen=True)
class Synth:
    name: str
    template: dict[str, Any]
    errors: list[str]
    warnings: list[str]
    outdir: Path

    def resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == cfn_type}


def cdk_json_context() -> dict[str, Any]:
    return dict(json.loads((REPO / "cdk.json").read_text(encoding="utf-8"))["context"])


def synthesize(overrides: dict[str, Any], outdir: Path) -> dict[str, Any]:
    from aws_cdk import App
    from aws_cdk.assertions import Annotations, Match, Template
    from trailhound_infra.aspects import apply_aspects
    from trailhound_infra.settings import Settings
    from trailhound_infra.stack import TrailHoundStack

    context = {**cdk_json_context(), "skipDependencyBundling": "true", "aws:cdk:enable-path-metadata": True,
               **overrides}
    app = App(context=context, outdir=str(outdir))
    settings = Settings.from_context(app)
    stack = TrailHoundStack(app, settings.stack_name, settings=settings)
    apply_aspects(stack, log_retention_days=settings.log_retention_days)
    template = Template.from_stack(stack).to_json()
    annotations = Annotations.from_stack(stack)
    errors = [f"{m.id}: {m.entry.data}" for m in annotations.find_error("*", Match.any_value())]
    warnings = [f"{m.id}: {m.entry.data}" for m in annotations.find_warning("*", Match.any_value())]
    return {"template": template, "errors": errors, "warnings": warnings, "outdir": str(outdir)}


def _shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    # Under xdist every worker has its own basetemp; their parent is shared by this run only.
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _synth(name: str, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    root = _shared_root(tmp_path_factory) / "trailhound-cdk"
    root.mkdir(parents=True, exist_ok=True)
    cache = root / f"{name}.json"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not cache.exists():
            data = synthesize(VARIANTS[name], root / f"{name}.out")
            cache.write_text(json.dumps(data), encoding="utf-8")
    data = json.loads(cache.read_text(encoding="utf-8"))
    return Synth(name, data["template"], data["errors"], data["warnings"], Path(data["outdir"]))


