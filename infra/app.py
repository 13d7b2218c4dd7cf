#!/usr/bin/env python3
"""CDK entry point (``cdk.json`` runs this): the TrailHound stack with cdk-nag's AwsSolutions pack.

Context (``-c key=value`` or cdk.json): eventDataStoreId, notificationEmail, securityHub,
containmentMode, protectedPrincipals, notebook, notebookInternet, athenaBytesScannedCutoffGb,
trailRetentionDays, logRetentionDays, retainData, skipDependencyBundling, trailRegions,
stackName. See docs/deploy.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aws_cdk import App  # noqa: E402
from trailhound_infra.aspects import apply_aspects  # noqa: E402
from trailhound_infra.settings import ContextError, Settings  # noqa: E402
from trailhound_infra.stack import TrailHoundStack  # noqa: E402


def main() -> int:
    app = App()
    try:
        settings = Settings.from_context(app)
    except ContextError as exc:
        print(f"trailhound-infra: error: {exc}", file=sys.stderr)
        return 2
    # Environment-agnostic on purpose: synth needs no AWS account, credentials or lookups.
    stack = TrailHoundStack(app, settings.stack_name, settings=settings)
    apply_aspects(stack, log_retention_days=settings.log_retention_days)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
