"""A recorded incident in a local store, and a local AWS endpoint seeded with its world.

One store per test session: the simulator's two playbook scenarios (a leaked IAM user key, an
instance role's stolen credentials) plus a shared snapshot and a backdoored bucket policy, over
benign background, ingested into a DuckDB file. The AWS objects those scenarios name (users and
keys, the trail, the instance and its role, the buckets) are created first in a moto server, and
their ids are what the recording uses, so the playbooks' containment plans read real (emulated)
objects.

The server and the recording live for the session; the environment that points at them (the
endpoint, fake credentials, no TrailHound table or store settings) is set only around each test
that uses the recording, and put back after it, so no other suite in the same worker reaches
this server. Kernels started by papermill inherit it from the test's environment.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO / "notebooks"
START = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
SCENARIOS = ["compromised-iam-user", "compromised-ec2-instance", "exfiltration.ec2-share-ebs-snapshot",
             "exfiltration.s3-backdoor-bucket-policy"]
KERNEL = "python3"
# Unset while the recording's environment applies: they would send a notebook elsewhere.
DROPPED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "TRAILHOUND_STORE", "TRAILHOUND_DB", "INVESTIGATIONS_TABLE",
           "CONTAINMENT_TABLE", "TRAILHOUND_PROTECTED_PRINCIPALS", "TRAILHOUND_NOTEBOOKS_DIR")


@contextlib.contextmanager
def applied(env: Mapping[str, str]) -> Iterator[None]:
    """``env`` set and ``DROPPED`` (and any per-service ``AWS_ENDPOINT_URL_*``) unset, undone on exit."""
    with pytest.MonkeyPatch.context() as mp:
        for name in DROPPED + tuple(n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")):
            mp.delenv(name, raising=False)
        for name, value in env.items():
            mp.setenv(name, value)
        yield


def touched(env: Mapping[str, str]) -> dict[str, str | None]:
    """The current values of every variable ``applied(env)`` sets or unsets (None: unset)."""
    names = set(env) | set(DROPPED) | {n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")}
    return {n: os.environ.get(n) for n in sorted(names)}


@dataclass(frozen=True)
class Recording:
    db: Path
    start: dt.datetime
    end: dt.datetime
    endpoint: str
    resources: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)  # what a test using the recording runs with

    @property
    def store(self) -> str:
        return f"local:{self.db}"

    def environment(self) -> contextlib.AbstractContextManager[None]:
        """The recording's environment, for the duration of a ``with`` block."""
        return applied(self.env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def kernel_name() -> str:
    """``python3``, resolving to this interpreter (jupyter_client runs a spec whose argv is
    ``python`` with ``sys.executable``); installed into ``sys.prefix`` if the venv lacks it."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    from jupyter_client.manager import KernelManager

    try:
        KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        from ipykernel.kernelspec import install

        install(kernel_name=KERNEL, prefix=sys.prefix)
    command = KernelManager(kernel_name=KERNEL).format_kernel_cmd()
    assert command[0] == sys.executable, f"kernel {KERNEL} would run {command[0]}, not this venv's python"
    return KERNEL


@pytest.fixture(scope="session")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recording]:
    """The local AWS endpoint (a moto server) seeded with the scenarios' resources, and the
    recorded incident in a DuckDB file. The environment is set only while seeding, and per test
    by ``_recording_env``."""
    import subprocess
    import time
    import urllib.request

    import boto3
    from trailhound.demo.emulator import seed
    from trailhound.simulate.scenarios import Resources, simulate
    from trailhound.store.local import LocalStore

    base = tmp_path_factory.mktemp("recording")
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(base / "no-aws-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(base / "no-aws-credentials"), "TZ": "UTC",
           "MOTO_EC2_LOAD_DEFAULT_AMIS": "false", "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    with applied(env):
        # Its own process: moto's backends are process-global, and every other test's mock_aws
        # resets them on exit, which would wipe this account in the middle of the session.
        server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    try:
        with applied(env):
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)  # noqa: S310 - local test server
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("the local AWS endpoint (moto server) did not start") from None
                    time.sleep(0.2)
            res = seed(boto3.Session(region_name="us-east-1"), Resources())
            sim = simulate(SCENARIOS, base / "cloudtrail", seed=7, start=START, resources=res)
            db = base / "events.duckdb"
            with LocalStore(db) as store:
                store.ingest(sim.files)
                # the replayed exposure fixtures name buckets of their own: they exist too
                rows = store.con.execute("SELECT DISTINCT requestParameters['bucketName'] FROM events "
                                         "WHERE eventName = 'PutBucketPolicy'").fetchall()
            s3 = boto3.client("s3", region_name="us-east-1")
            for (bucket,) in rows:
                if bucket and bucket not in (res.bucket, res.trail_bucket):
                    s3.create_bucket(Bucket=bucket)
        yield Recording(db=db, start=sim.start, end=sim.end, endpoint=endpoint, resources=res.to_dict(), env=env)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(autouse=True)
def _recording_env(request: pytest.FixtureRequest) -> Iterator[None]:
    """Around each test that uses the recording (directly or through a fixture), and only then:
    the recording's environment, checked to be back as it was once the test is over."""
    if "recording" not in request.fixturenames:
        yield
        return
    rec: Recording = request.getfixturevalue("recording")
    before = touched(rec.env)
    with rec.environment():
        yield
    after = touched(rec.env)
    assert after == before, f"the recording's environment outlived {request.node.nodeid}: {before} -> {after}"
