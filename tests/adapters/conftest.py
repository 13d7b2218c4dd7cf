"""What the engine adapters' tests share: a clock that moves only when the code sleeps, and a
botocore Stubber on each test file's own ``client`` fixture (fake credentials and no endpoint:
``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def stub(client: Any) -> Iterator[Stubber]:
    """Stub the test file's ``client``; every queued response must have been used."""
    with Stubber(client) as s:
        yield s
        s.assert_no_pending_responses()
