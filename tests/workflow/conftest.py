"""Execute the real workflow definition in moto's Step Functions executor, with its Lambda tasks
routed in-process to the real handlers (moto's Lambda needs Docker to run code; there is none)."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from trailhound.investigation.definition import FUNCTION_SUBSTITUTIONS, render

REGION = "us-east-1"
ACCOUNT = "123456789012"
# step → (Lambda name, handler)
FUNCTIONS = {
    "enrich": "trailhound-enrich",
    "decide": "trailhound-decide",
    "request_approval": "trailhound-request-approval",
    "contain": "trailhound-contain",
    "verify": "trailhound-verify",
    "notify": "trailhound-notify",
}


@dataclass
class FakeLambdaContext:
    function_name: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"


def _handlers() -> dict[str, Any]:
    from trailhound.handlers import contain, investigate

    return {
        FUNCTIONS["enrich"]: investigate.enrich,
        FUNCTIONS["decide"]: investigate.decide,
        FUNCTIONS["request_approval"]: investigate.request_approval,
        FUNCTIONS["contain"]: contain.lambda_handler,
        FUNCTIONS["verify"]: investigate.verify,
        FUNCTIONS["notify"]: investigate.notify,
    }


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


@dataclass
class Workflow:
    sfn: Any
    arn: str
    calls: list[tuple[str, dict[str, Any]]]
    returned: list[str]  # functions whose handler has returned, in order

    def start(self, doc: dict[str, Any]) -> str:
        return self.sfn.start_execution(stateMachineArn=self.arn, input=json.dumps(doc))["executionArn"]

    def wait(self, execution_arn: str, *, until: tuple[str, ...] = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"),
             timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            desc = self.sfn.describe_execution(executionArn=execution_arn)
            if desc["status"] in until:
                return desc  # type: ignore[no-any-return]
            time.sleep(0.05)
        raise AssertionError(f"execution still {desc['status']} after {timeout}s")

    def steps_called(self) -> list[str]:
        names = {v: k for k, v in FUNCTIONS.items()}
        return [names[n] for n, _ in self.calls]

    def steps_returned(self) -> list[str]:
        names = {v: k for k, v in FUNCTIONS.items()}
        return [names[n] for n in self.returned]


@pytest.fixture
def workflow(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Workflow]:
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from trailhound.handlers import contain, investigate

    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": REGION, "CONTAINMENT_TABLE": "trailhound-containments",
                 "INVESTIGATIONS_TABLE": "trailhound-investigations", "IDEMPOTENCY_TABLE": "trailhound-idempotency",
                 "VERIFY_WAIT_SECONDS": "0", "POWERTOOLS_TRACE_DISABLED": "true",
                 "POWERTOOLS_METRICS_NAMESPACE": "TrailHound"}.items():
        monkeypatch.setenv(k, v)
    calls: list[tuple[str, dict[str, Any]]] = []
    returned: list[str] = []
    handlers = _handlers()

    def invoke(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any,
               response_headers: Any) -> bytes:
        name = function_name.split(":")[-1]
        event = json.loads(body) if body else {}
        calls.append((name, event))
        try:
            result = handlers[name](event, FakeLambdaContext(name))
        except Exception as exc:  # reported to Step Functions as the function's error
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()
        finally:
            returned.append(name)
        return json.dumps(result, default=str).encode()

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", invoke)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}) as aws:
        aws.reset()  # moto resets only for the outermost mock: start from an empty account however mocks nest
        investigate.context.cache_clear()
        contain._contain.cache_clear()
        ddb = boto3.client("dynamodb", region_name=REGION)
        for table, key in (("trailhound-containments", "id"), ("trailhound-investigations", "investigation_id"),
                           ("trailhound-idempotency", "id")):
            ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                             KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}])
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="trailhound-test-lambda", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
        lam = boto3.client("lambda", region_name=REGION)
        arns = {}
        for step, name in FUNCTIONS.items():
            arns[step] = lam.create_function(FunctionName=name, Runtime="python3.12", Role=role,
                                              Handler="index.handler", Code={"ZipFile": _zip()})["FunctionArn"]
        subs = {placeholder: arns[step] for placeholder, step in FUNCTION_SUBSTITUTIONS.items()}
        sfn = boto3.client("stepfunctions", region_name=REGION)
        sm_role = iam.create_role(RoleName="trailhound-test-sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        arn = sfn.create_state_machine(name="trailhound-investigation", definition=render(subs),
                                       roleArn=sm_role)["stateMachineArn"]
        yield Workflow(sfn, arn, calls, returned)
        investigate.context.cache_clear()
        contain._contain.cache_clear()


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
