"""Fixtures: the two synthesized variants (see ``infra_synth``) and fake AWS credentials."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from infra_synth import VARIANTS, Synth, _synth  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _fake_aws_env() -> None:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "TZ": "UTC"}.items():
        os.environ.setdefault(key, value)


@pytest.fixture(scope="session")
def athena(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return _synth("athena", tmp_path_factory)


@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return _synth("lake", tmp_path_factory)


@pytest.fixture(scope="session", params=sorted(VARIANTS))
def synth(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return _synth(request.param, tmp_path_factory)
