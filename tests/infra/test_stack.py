"""Template assertions for every component, in both engine modes (Athena default, Lake)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from infra_synth import EDS_ID, REPO, Synth

pytestmark = pytest.mark.slow  # two synths with cdk-nag: ~30-60 s on this machine


# --- helpers ----------------------------------------------------------------------------------

def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(synth: Synth, logical_id: str | None = None) -> list[dict[str, Any]]:
    """Every IAM statement in the template (or in one policy / role)."""
    out: list[dict[str, Any]] = []
    for lid, res in synth.template["Resources"].items():
        if logical_id is not None and lid != logical_id:
            continue
        props = res.get("Properties", {})
        if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            out += props["PolicyDocument"]["Statement"]
        elif res["Type"] == "AWS::IAM::Role":
            for p in props.get("Policies", []):
                out += p["PolicyDocument"]["Statement"]
    return out


def policies_of_role(synth: Synth, role_id: str) -> dict[str, dict[str, Any]]:
    return {lid: res for lid, res in synth.resources("AWS::IAM::Policy").items()
            if {"Ref": role_id} in res["Properties"].get("Roles", [])}


def logical_id(synth: Synth, cfn_type: str, path_part: str) -> str:
    """The logical id of the one resource of ``cfn_type`` whose construct path contains ``path_part``."""
    found = [lid for lid, res in synth.resources(cfn_type).items()
             if path_part in res.get("Metadata", {}).get("aws:cdk:path", "")]
    assert len(found) == 1, f"{cfn_type} with path containing {path_part!r}: {found}"
    return found[0]


def function(synth: Synth, path_part: str) -> dict[str, Any]:
    return synth.template["Resources"][logical_id(synth, "AWS::Lambda::Function", path_part)]


def allowed_actions(stmts: list[dict[str, Any]]) -> set[str]:
    return {a for s in stmts if s.get("Effect") == "Allow" for a in _as_list(s["Action"])}


# --- cross-cutting ----------------------------------------------------------------------------

def test_cdk_nag_has_no_unsuppressed_error(synth: Synth) -> None:
    nag = [e for e in synth.errors if "AwsSolutions-" in e]
    assert nag == [], "\n".join(nag)
    assert synth.errors == []


def test_no_iam_statement_allows_every_action(synth: Synth) -> None:
    stmts = statements(synth)
    assert len(stmts) > 20  # the walk found the policies
    for s in stmts:
        if s.get("Effect") != "Allow":
            continue
        for action in _as_list(s["Action"]):
            assert action != "*" and not action.endswith(":*"), f"statement allows {action!r}: {s}"


def test_every_log_group_has_retention_and_every_function_traces(synth: Synth) -> None:
    groups = synth.resources("AWS::Logs::LogGroup")
    assert groups and all(g["Properties"].get("RetentionInDays") == 30 for g in groups.values())
    functions = synth.resources("AWS::Lambda::Function")
    ours = {k: v for k, v in functions.items() if v["Properties"].get("Runtime", "").startswith("python")}
    assert len(ours) == 7  # detect, contain, five investigation steps
    for fn in ours.values():
        assert fn["Properties"]["TracingConfig"] == {"Mode": "Active"}
        assert fn["Properties"]["Environment"]["Variables"]["TRAILHOUND_SQL_DIR"] == "/var/task/trailhound/_sql"


def test_data_stores_are_encrypted(synth: Synth) -> None:
    for b in synth.resources("AWS::S3::Bucket").values():
        assert b["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert b["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    for q in synth.resources("AWS::SQS::Queue").values():
        assert q["Properties"].get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in q["Properties"]
    for k in synth.resources("AWS::KMS::Key").values():
        assert k["Properties"]["EnableKeyRotation"] is True


# --- event store ------------------------------------------------------------------------------

def test_athena_engine_trail_bucket_table_workgroup(athena: Synth) -> None:
    trail = next(iter(athena.resources("AWS::CloudTrail::Trail").values()))["Properties"]
    assert trail["IsMultiRegionTrail"] is True and trail["IncludeGlobalServiceEvents"] is True
    assert trail["EnableLogFileValidation"] is True and "KMSKeyId" in trail
    log_bucket = athena.template["Resources"][logical_id(athena, "AWS::S3::Bucket", "EventStore/TrailLogs")]
    props = log_bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
        "SSEAlgorithm"] == "aws:kms"
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "trail-logs/"
    rule = props["LifecycleConfiguration"]["Rules"][0]
    assert rule["ExpirationInDays"] == 365 and rule["Status"] == "Enabled"

    table = next(iter(athena.resources("AWS::Glue::Table").values()))["Properties"]["TableInput"]
    params = table["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.timestamp.type"] == "date"
    assert params["projection.timestamp.format"] == "yyyy/MM/dd"
    assert params["projection.timestamp.range"].endswith(",NOW")
    assert params["projection.trail_region.type"] == "enum"
    assert "us-east-1" in params["projection.trail_region.values"].split(",")
    template = json.dumps(params["storage.location.template"])
    assert "/CloudTrail/${trail_region}/${timestamp}" in template
    assert [k["Name"] for k in table["PartitionKeys"]] == ["trail_region", "timestamp"]
    storage = table["StorageDescriptor"]
    assert storage["InputFormat"] == "com.amazon.emr.cloudtrail.CloudTrailInputFormat"
    assert storage["SerdeInfo"]["SerializationLibrary"] == "org.apache.hive.hcatalog.data.JsonSerDe"
    columns = {c["Name"]: c["Type"] for c in storage["Columns"]}
    assert columns["eventtime"] == "string" and columns["requestparameters"] == "string"
    assert columns["readonly"] == "string" and "eventjson" not in columns
    assert columns["resources"] == "array<struct<arn:string,accountid:string,type:string>>"

    wg = next(iter(athena.resources("AWS::Athena::WorkGroup").values()))["Properties"]
    conf = wg["WorkGroupConfiguration"]
    assert conf["EnforceWorkGroupConfiguration"] is True
    assert conf["BytesScannedCutoffPerQuery"] == 10 * 1024 ** 3
    assert conf["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    env = function(athena, "Detections/Detect/Function")["Properties"]["Environment"]["Variables"]
    assert env["TRAILHOUND_STORE"] == "athena:trailhound/trailhound.cloudtrail_logs"


def test_lake_engine_creates_no_trail_and_grants_the_named_store(lake: Synth) -> None:
    for cfn_type in ("AWS::CloudTrail::Trail", "AWS::Glue::Table", "AWS::Athena::WorkGroup", "AWS::S3::Bucket"):
        assert lake.resources(cfn_type) == {}, cfn_type
    env = function(lake, "Detections/Detect/Function")["Properties"]["Environment"]["Variables"]
    assert env["TRAILHOUND_STORE"] == f"lake:{EDS_ID}"
    role = logical_id(lake, "AWS::IAM::Role", "Detections/Detect/Role")
    stmts = [s for p in policies_of_role(lake, role) for s in statements(lake, p)]
    lake_stmt = [s for s in stmts if "cloudtrail:StartQuery" in _as_list(s["Action"])]
    assert len(lake_stmt) == 1
    assert {"cloudtrail:DescribeQuery", "cloudtrail:GetQueryResults"} <= set(lake_stmt[0]["Action"])
    assert json.dumps(lake_stmt[0]["Resource"]).endswith(f':eventdatastore/{EDS_ID}"]]}}')
    assert not any(a.startswith("athena:") for a in allowed_actions(stmts))


# --- detections -------------------------------------------------------------------------------

def _expected_groups() -> dict[str, list[str]]:
    from trailhound_infra.detections import DEFAULT_SCHEDULE, header_schedule

    groups: dict[str, list[str]] = {}
    for path in sorted((REPO / "sql" / "detections").glob("*.sql")):
        schedule = header_schedule(path.read_text(encoding="utf-8"))
        assert schedule, f"{path}: no schedule in the header"
        groups.setdefault(schedule, []).append(path.stem)
    return {k: sorted(v) for k, v in groups.items()} or {DEFAULT_SCHEDULE: []}


def _rate(schedule: str) -> str:
    n, unit = int(schedule[:-1]), schedule[-1]
    word = {"m": "minute", "h": "hour", "d": "day"}[unit]
    return f"rate({n} {word}{'s' if n != 1 else ''})"


def test_one_schedule_rule_per_group_invokes_detect_with_its_detections(athena: Synth) -> None:
    detect_id = logical_id(athena, "AWS::Lambda::Function", "Detections/Detect/Function")
    rules = [r["Properties"] for r in athena.resources("AWS::Events::Rule").values()
             if "ScheduleExpression" in r["Properties"]]
    expected = _expected_groups()
    assert len(rules) == len(expected)
    seen: dict[str, list[str]] = {}
    for rule in rules:
        (target,) = rule["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [detect_id, "Arn"]}
        assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 2
        payload = json.loads(target["Input"])
        seen[payload["schedule"]] = payload["detection_ids"]
        assert rule["ScheduleExpression"] == _rate(payload["schedule"])
    assert seen == expected
    detect = athena.template["Resources"][detect_id]["Properties"]
    assert detect["Handler"] == "trailhound.handlers.detect.handler"
    assert "DeadLetterConfig" in detect


def test_lambda_asset_ships_the_package_and_the_sql(athena: Synth) -> None:
    code = function(athena, "Detections/Detect/Function")["Properties"]["Code"]
    asset_hash = json.dumps(code["S3Key"]).split(".zip")[0].rsplit('"', 1)[-1]
    asset = athena.outdir / f"asset.{asset_hash}"
    assert (asset / "trailhound" / "__init__.py").is_file()
    assert (asset / "trailhound" / "_sql").is_dir()
    shipped = sorted(p.name for p in (asset / "trailhound" / "_sql" / "detections").glob("*.sql")) \
        if (REPO / "sql" / "detections").is_dir() else []
    assert shipped == sorted(p.name for p in (REPO / "sql" / "detections").glob("*.sql"))
    assert (asset / "SKIPPED-DEPENDENCIES.txt").is_file()  # tests never bundle third-party packages
    assert not list(asset.rglob("__pycache__"))


# --- state ------------------------------------------------------------------------------------

def test_tables_encrypted_with_pitr_and_ttl(synth: Synth) -> None:
    tables = synth.resources("AWS::DynamoDB::Table")
    assert len(tables) == 4
    ttl = {}
    for t in tables.values():
        p = t["Properties"]
        assert p["SSESpecification"]["SSEEnabled"] is True and p["SSESpecification"]["SSEType"] == "KMS"
        assert "KMSMasterKeyId" in p["SSESpecification"]
        assert p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert p["BillingMode"] == "PAY_PER_REQUEST"
        ttl[t["Metadata"]["aws:cdk:path"].split("/")[2]] = (p["TimeToLiveSpecification"]["AttributeName"],
                                                             [k["AttributeName"] for k in p["KeySchema"]])
    assert ttl == {"StateTable": ("expires_at", ["pk", "sk"]), "ContainmentTable": ("expires_at", ["id"]),
                   "InvestigationTable": ("expires_at", ["investigation_id"]), "IdempotencyTable": ("expiration", ["id"])}
    contain = function(synth, "Containment/Contain/Function")["Properties"]["Environment"]["Variables"]
    assert {"CONTAINMENT_TABLE", "IDEMPOTENCY_TABLE", "TRAILHOUND_STATE_TABLE"} <= set(contain)


# --- findings ---------------------------------------------------------------------------------

def test_bus_rule_starts_the_investigation(synth: Synth) -> None:
    (bus,) = synth.resources("AWS::Events::EventBus").values()
    assert bus["Properties"]["Name"] == "trailhound"
    sm_id = logical_id(synth, "AWS::StepFunctions::StateMachine", "Investigation/StateMachine")
    rules = [r["Properties"] for r in synth.resources("AWS::Events::Rule").values() if "EventPattern" in r["Properties"]]
    (rule,) = rules
    assert rule["EventPattern"] == {"source": ["trailhound"], "detail-type": ["TrailHound Finding"]}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": sm_id}
    assert "DeadLetterConfig" in target
    assert "investigation_id" in target["InputTransformer"]["InputTemplate"]


def test_topic_kms_and_optional_email_and_security_hub(athena: Synth, lake: Synth) -> None:
    for s in (athena, lake):
        (topic,) = s.resources("AWS::SNS::Topic").values()
        assert "KmsMasterKeyId" in topic["Properties"]
    assert athena.resources("AWS::SNS::Subscription") == {}
    (sub,) = lake.resources("AWS::SNS::Subscription").values()
    assert sub["Properties"]["Protocol"] == "email" and sub["Properties"]["Endpoint"] == "soc@example.com"
    assert "securityhub:BatchImportFindings" not in allowed_actions(statements(athena))
    assert "securityhub:BatchImportFindings" in allowed_actions(statements(lake))
    env = function(lake, "Detections/Detect/Function")["Properties"]["Environment"]["Variables"]
    assert env["TRAILHOUND_SECURITY_HUB"] == "true"


# --- investigation ----------------------------------------------------------------------------

def _definition(synth: Synth) -> str:
    sm = next(iter(synth.resources("AWS::StepFunctions::StateMachine").values()))["Properties"]
    return json.dumps(sm["DefinitionString"])


def test_state_machine_has_approval_step_logs_all_and_traces(synth: Synth) -> None:
    sm = next(iter(synth.resources("AWS::StepFunctions::StateMachine").values()))["Properties"]
    definition = _definition(synth)
    assert "arn:aws:states:::lambda:invoke.waitForTaskToken" in definition
    assert "$$.Task.Token" in definition
    text = "".join(_string_parts(sm["DefinitionString"]))
    assert not re.search(r"\$\{[A-Za-z0-9_]+\}", text)  # every placeholder substituted
    assert "Fn::Sub" not in definition  # a literal "${" elsewhere in the definition stays literal
    assert sm["LoggingConfiguration"]["Level"] == "ALL"
    assert sm["LoggingConfiguration"]["IncludeExecutionData"] is True
    assert sm["TracingConfiguration"] == {"Enabled": True}
    contain = logical_id(synth, "AWS::Lambda::Function", "Containment/Contain/Function")
    assert contain in definition
    for step in ("Enrich", "Decide", "RequestApproval", "Verify", "Notify"):
        assert logical_id(synth, "AWS::Lambda::Function", f"Investigation/{step}/Function") in definition


def _string_parts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [p for v in value for p in _string_parts(v)]
    if isinstance(value, dict) and "Fn::Join" in value:
        return _string_parts(value["Fn::Join"][1])
    return []


def test_workflow_placeholders_are_all_known() -> None:
    from trailhound_infra.investigation import CONTAIN_PLACEHOLDER, STEPS, placeholders, workflow_file

    known = {p for _, p, _, _ in STEPS.values()} | {CONTAIN_PLACEHOLDER}
    text = workflow_file().read_text(encoding="utf-8")
    assert placeholders(text) and placeholders(text) <= known
    assert "waitForTaskToken" in text


# --- containment ------------------------------------------------------------------------------

def test_containment_role_is_exactly_the_registered_permissions(synth: Synth) -> None:
    from trailhound.containment.registry import all_permissions

    role = logical_id(synth, "AWS::IAM::Role", "Containment/Role")
    policies = policies_of_role(synth, role)
    actions_policy = logical_id(synth, "AWS::IAM::Policy", "Containment/ActionsPolicy")
    assert actions_policy in policies
    registered = statements(synth, actions_policy)
    assert allowed_actions(registered) == set(all_permissions())
    (allow,) = [s for s in registered if s["Effect"] == "Allow"]
    assert allow["Resource"] == "*"
    (deny,) = [s for s in registered if s["Effect"] == "Deny"]
    assert set(_as_list(deny["Action"])) <= set(all_permissions())
    assert any("role/TrailHound-*" in json.dumps(r) for r in _as_list(deny["Resource"]))
    # Everything else on the role is plumbing: its tables and key, its logs, X-Ray.
    plumbing = allowed_actions([s for p in policies if p != actions_policy for s in statements(synth, p)])
    assert plumbing and all(a.split(":")[0] in {"dynamodb", "kms", "logs", "xray"} for a in plumbing), plumbing
    assert not set(all_permissions()) & plumbing
    assert synth.template["Resources"][role]["Properties"].get("ManagedPolicyArns") is None
    fns = [f for f in synth.resources("AWS::Lambda::Function").values()
           if f["Properties"].get("Role") == {"Fn::GetAtt": [role, "Arn"]}]
    assert [f["Properties"]["Handler"].rsplit(".", 1)[0] for f in fns] == ["trailhound.handlers.contain"]


def test_containment_mode_and_protected_principals_reach_the_functions(athena: Synth, lake: Synth) -> None:
    a = function(athena, "Containment/Contain/Function")["Properties"]["Environment"]["Variables"]
    assert a["TRAILHOUND_CONTAINMENT_MODE"] == "dry-run" and a["CONTAINMENT_MODE"] == "dry-run"
    assert a["TRAILHOUND_STACK_PREFIX"] == "TrailHound"
    b = function(lake, "Investigation/Decide/Function")["Properties"]["Environment"]["Variables"]
    assert b["TRAILHOUND_CONTAINMENT_MODE"] == "approval"
    assert b["TRAILHOUND_PROTECTED_PRINCIPALS"].split(",") == [
        "arn:aws:iam::*:role/BreakGlass*", "arn:aws:sts::*:assumed-role/Admin/*"]
    deny = [s for s in statements(lake, logical_id(lake, "AWS::IAM::Policy", "Containment/ActionsPolicy"))
            if s["Effect"] == "Deny"][0]
    assert "arn:aws:iam::*:role/BreakGlass*" in deny["Resource"]


# --- notebook ---------------------------------------------------------------------------------

def test_notebook_root_access_disabled_with_kms_key(synth: Synth) -> None:
    (nb,) = synth.resources("AWS::SageMaker::NotebookInstance").values()
    p = nb["Properties"]
    assert p["InstanceType"] == "ml.t3.medium"
    assert p["RootAccess"] == "Disabled"
    key_id = logical_id(synth, "AWS::KMS::Key", "Notebook/VolumeKey")
    assert p["KmsKeyId"] == {"Ref": key_id}
    assert "LifecycleConfigName" in p
    (lc,) = synth.resources("AWS::SageMaker::NotebookInstanceLifecycleConfig").values()
    script = json.dumps(lc["Properties"]["OnStart"])
    assert "Fn::Base64" in script and "trailhound.env" in script and "--no-index --find-links wheels" in script
    bundle = [d for d in synth.outdir.glob("asset.*") if (d / "requirements-notebooks.txt").is_file()]
    assert len(bundle) == 1 and (bundle[0] / "notebooks").is_dir() and (bundle[0] / "sql").is_dir()
    assert "pandas" in (bundle[0] / "requirements-notebooks.txt").read_text()


def test_notebook_network_default_isolated_workshop_direct(athena: Synth, lake: Synth) -> None:
    p = next(iter(athena.resources("AWS::SageMaker::NotebookInstance").values()))["Properties"]
    assert p["DirectInternetAccess"] == "Disabled" and "SubnetId" in p and p["SecurityGroupIds"]
    assert athena.resources("AWS::EC2::NatGateway") == {} and athena.resources("AWS::EC2::InternetGateway") == {}
    endpoints = [json.dumps(e["Properties"]["ServiceName"]) for e in athena.resources("AWS::EC2::VPCEndpoint").values()]
    for service in ("s3", "dynamodb", "sts", "athena", "states", "ec2", "lambda"):
        assert any(re.search(rf"\.{service}\b", e) for e in endpoints), (service, endpoints)
    assert athena.resources("AWS::EC2::FlowLog")
    q = next(iter(lake.resources("AWS::SageMaker::NotebookInstance").values()))["Properties"]
    assert q["DirectInternetAccess"] == "Enabled" and "SubnetId" not in q
    assert lake.resources("AWS::EC2::VPC") == {}


def test_verify_step_plans_but_cannot_apply(synth: Synth) -> None:
    from trailhound.containment.registry import all_permissions

    role = logical_id(synth, "AWS::IAM::Role", "Investigation/Verify/Role")
    actions = allowed_actions([s for p in policies_of_role(synth, role) for s in statements(synth, p)])
    dry = actions & set(all_permissions())
    assert dry and all(a.split(":")[1].startswith(("Get", "List", "Describe")) for a in dry)
    assert "dynamodb:GetItem" in actions and "dynamodb:PutItem" not in actions


def test_every_handler_exists_in_the_package(synth: Synth) -> None:
    from trailhound_infra.functions import defined_functions

    absent = []
    for fn in synth.resources("AWS::Lambda::Function").values():
        handler = fn["Properties"].get("Handler", "")
        if not handler.startswith("trailhound."):
            continue
        module, _, name = handler.rpartition(".")
        defined = defined_functions(module)
        if defined is None:  # a module still being written (the synth warned): nothing to check yet
            absent.append(module)
            continue
        assert name in defined, f"{handler}: {module} defines no {name}"
    if absent:
        pytest.skip(f"handler modules not in the package yet: {', '.join(sorted(absent))}")
    assert not [w for w in synth.warnings if "handler-missing" in w]


def test_notebook_role_queries_dry_runs_and_answers_approvals(synth: Synth) -> None:
    from trailhound.containment.registry import all_permissions

    role = logical_id(synth, "AWS::IAM::Role", "Notebook/Role")
    actions = allowed_actions([s for p in policies_of_role(synth, role) for s in statements(synth, p)])
    assert {"states:SendTaskSuccess", "states:SendTaskFailure"} <= actions
    assert ("athena:StartQueryExecution" in actions) or ("cloudtrail:StartQuery" in actions)
    dry = {a for a in actions if a in set(all_permissions())}
    assert dry and all(a.split(":")[1].startswith(("Get", "List", "Describe")) for a in dry)
    assert not {"iam:UpdateAccessKey", "iam:PutUserPolicy", "ec2:ModifyInstanceAttribute"} & actions


# --- monitoring -------------------------------------------------------------------------------

def test_alarms_cover_detect_lag_executions_and_dead_letters(synth: Synth) -> None:
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    topic = logical_id(synth, "AWS::SNS::Topic", "Findings/Topic")
    assert all(a["AlarmActions"] == [{"Ref": topic}] for a in alarms)
    metrics = {(a.get("Namespace"), a.get("MetricName")) for a in alarms}
    assert ("AWS/Lambda", "Errors") in metrics and ("AWS/Lambda", "Invocations") in metrics
    assert ("TrailHound", "WatermarkLagSeconds") in metrics
    assert ("AWS/States", "ExecutionsFailed") in metrics
    dlq = [a for a in alarms if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"]
    assert len(dlq) == 2


def test_outputs_name_the_store_and_the_workflow(synth: Synth) -> None:
    outputs = synth.template["Outputs"]
    for name in ("Store", "EventBusName", "FindingsTopicArn", "StateMachineArn", "NotebookInstanceName"):
        assert name in outputs, name


def test_removal_policies_leave_nothing_billable(athena: Synth) -> None:
    for cfn_type in ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::KMS::Key", "AWS::Logs::LogGroup"):
        for lid, res in athena.resources(cfn_type).items():
            assert res.get("DeletionPolicy") == "Delete", (cfn_type, lid)
    auto_delete = {lid: r for lid, r in athena.template["Resources"].items() if r["Type"] == "Custom::S3AutoDeleteObjects"}
    assert len(auto_delete) == len(athena.resources("AWS::S3::Bucket"))
    # The log bucket is emptied only once the trail is deleted (no late delivery re-fills it).
    trail = next(iter(athena.resources("AWS::CloudTrail::Trail")))
    (trail_logs,) = [r for lid, r in auto_delete.items() if lid.startswith("EventStoreTrailLogs")]
    assert trail in trail_logs["DependsOn"]


def test_names_the_tampering_detections_recognise(synth: Synth) -> None:
    names = [f["Properties"]["FunctionName"] for f in synth.resources("AWS::Lambda::Function").values()
             if f["Properties"].get("Runtime", "").startswith("python")]
    assert names and all(n.startswith("trailhound-") for n in names)
    rules = [r["Properties"]["Name"] for r in synth.resources("AWS::Events::Rule").values()]
    assert rules and all(n.startswith("trailhound-") for n in rules)
    (sm,) = synth.resources("AWS::StepFunctions::StateMachine").values()
    assert sm["Properties"]["StateMachineName"] == "trailhound-investigation"


def test_asset_dirs_exist(athena: Synth) -> None:
    assert Path(athena.outdir).is_dir()


def test_table_keys_match_the_code_that_reads_them(athena: Synth) -> None:
    """Create the four tables in moto exactly as synthesized and use them through our own stores:
    a key-schema drift makes DynamoDB reject the request instead of answering "not found"."""
    import boto3
    from moto import mock_aws
    from trailhound.containment.errors import RecordNotFoundError
    from trailhound.containment.records import DynamoDBRecordStore
    from trailhound.errors import UserInputError
    from trailhound.investigation.records import DynamoDBInvestigationStore
    from trailhound.scheduler.state import DynamoDBState

    names = {}
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        for t in athena.resources("AWS::DynamoDB::Table").values():
            p = t["Properties"]
            name = t["Metadata"]["aws:cdk:path"].split("/")[2]
            client.create_table(TableName=name, KeySchema=p["KeySchema"], AttributeDefinitions=p["AttributeDefinitions"],
                                BillingMode="PAY_PER_REQUEST")
            names[name] = name
        assert DynamoDBState(names["StateTable"], client).load_states(["x"]) == {}
        with pytest.raises(RecordNotFoundError):
            DynamoDBRecordStore(client, names["ContainmentTable"]).get("missing")
        investigations = DynamoDBInvestigationStore(client, names["InvestigationTable"])
        with pytest.raises(UserInputError, match="no investigation"):
            investigations.get("missing")
        investigations.put({"investigation_id": "inv-1", "status": "running"})
        assert investigations.get("inv-1")["status"] == "running"


def test_handlers_import_from_the_lambda_asset(athena: Synth) -> None:
    """The staged asset (our source, with the venv standing in for the bundled wheels) imports
    every handler the template names and finds the detections it ships."""
    import os
    import subprocess
    import sys

    code = function(athena, "Detections/Detect/Function")["Properties"]["Code"]
    asset = athena.outdir / f"asset.{json.dumps(code['S3Key']).split('.zip')[0].rsplit(chr(34), 1)[-1]}"
    from trailhound_infra.functions import defined_functions

    handlers = sorted({f["Properties"]["Handler"] for f in athena.resources("AWS::Lambda::Function").values()
                       if f["Properties"].get("Handler", "").startswith("trailhound.")
                       and defined_functions(f["Properties"]["Handler"].rpartition(".")[0]) is not None})
    assert handlers
    probe = (
        "import importlib, sys\n"
        f"sys.path.insert(0, {str(asset)!r})\n"
        "for h in sys.argv[1:]:\n"
        "    mod, _, name = h.rpartition('.')\n"
        "    assert callable(getattr(importlib.import_module(mod), name)), h\n"
        "import trailhound\n"
        f"assert trailhound.__file__.startswith({str(asset)!r}), trailhound.__file__\n"
        "from trailhound.detections.model import detections_dir, load_detections\n"
        "print(detections_dir(), len(load_detections()))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TRAILHOUND_SQL_DIR"}
    env.update(AWS_DEFAULT_REGION="us-east-1", POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_METRICS_NAMESPACE="TrailHound")
    proc = subprocess.run([sys.executable, "-c", probe, *handlers], capture_output=True, text=True, env=env,
                          cwd=str(asset), timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    where, count = proc.stdout.split()[-2:]
    assert where.startswith(str(asset)) and int(count) == len(list((REPO / "sql" / "detections").glob("*.sql")))
