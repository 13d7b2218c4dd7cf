"""The SageMaker notebook instance that carries the incident-response playbooks.

- ``ml.t3.medium``, root access disabled, the ML volume encrypted with its own KMS key,
  Amazon Linux 2023 platform.
- Network (decision, see docs/deploy.md): by default no direct internet access, in the private
  isolated subnet of a small VPC this construct creates (one AZ, no NAT gateway, no internet
  gateway). The notebook reaches AWS through VPC endpoints: S3 and DynamoDB (gateway, free)
  and interface endpoints for STS, Athena or CloudTrail (the engine in use), Step Functions
  (approvals), EC2 and Lambda (containment dry runs). Context ``notebookInternet=true``
  (a workshop without VPC-endpoint budget) gives the instance SageMaker's direct internet
  access instead and creates no VPC.
- A lifecycle configuration syncs ``notebooks/`` from an S3 asset on every start, installs the
  package's dependencies from the wheelhouse in the same asset (no internet needed) and puts
  the ``trailhound`` source on the kernel's path; the store, tables and state machine are
  written to ``~/SageMaker/trailhound/trailhound.env`` and loaded into every IPython kernel.
- The role can query the event store, read and write investigations (approvals), send task
  tokens to the investigation state machine, and run containment dry runs (the Get/List/Describe
  subset of the registered permissions; never apply).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, Fn, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from cdk_nag import NagSuppressions
from constructs import Construct

from trailhound_infra.assets import notebook_bundle

INSTANCE_TYPE = "ml.t3.medium"
PLATFORM = "notebook-al2023-v1"
HOME = "/home/ec2-user/SageMaker/trailhound"
KERNEL_ENV = "python3"  # the conda env behind the default "conda_python3" kernel


def on_start_script(bundle_uri: str, env: Mapping[str, str]) -> str:
    """The lifecycle on-start script (bash, runs as root, must finish within 5 minutes)."""
    env_lines = "\n".join(f"{k}={v}" for k, v in sorted(env.items()))
    return f"""#!/bin/bash
# TrailHound notebook start-up: sync the playbooks and the package from the S3 asset, then install
# the dependencies from the bundled wheelhouse in the background (pip may outlast the 5-minute limit).
set -euo pipefail
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
HOME_DIR={HOME}
WORK=$(mktemp -d)
aws s3 cp --only-show-errors "{bundle_uri}" "$WORK/bundle.zip"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$WORK/bundle.zip" "$WORK/b"
mkdir -p "$HOME_DIR/notebooks"
rm -rf "$HOME_DIR/functions" "$HOME_DIR/sql" "$HOME_DIR/wheels"
cp -r "$WORK/b/functions" "$WORK/b/sql" "$WORK/b/wheels" "$WORK/b/requirements.txt" \
  "$WORK/b/requirements-notebooks.txt" "$HOME_DIR/"
# Shipped playbooks are refreshed on every start; copies saved under other names are kept.
cp -r "$WORK/b/notebooks/." "$HOME_DIR/notebooks/"
cat > "$HOME_DIR/trailhound.env" <<'TRAILHOUND_ENV'
{env_lines}
TRAILHOUND_SQL_DIR={HOME}/sql
TRAILHOUND_ENV
mkdir -p /home/ec2-user/.ipython/profile_default/startup
cat > /home/ec2-user/.ipython/profile_default/startup/00-trailhound.py <<'TRAILHOUND_PY'
# Written by the TrailHound lifecycle configuration: the deployed store, tables and workflow.
import os
from pathlib import Path
_env = Path("{HOME}/trailhound.env")
if _env.exists():
    for _line in _env.read_text().splitlines():
        _k, _, _v = _line.partition("=")
        if _k and _v:
            os.environ.setdefault(_k.strip(), _v.strip())
TRAILHOUND_PY
chown -R ec2-user:ec2-user "$HOME_DIR" /home/ec2-user/.ipython
rm -rf "$WORK"
cat > "$HOME_DIR/install.sh" <<'TRAILHOUND_INSTALL'
#!/bin/bash
set -euo pipefail
# The default kernel's env; else the first conda env with Python 3.11 or later.
PY=/home/ec2-user/anaconda3/envs/{KERNEL_ENV}/bin/python
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  PY=""
  for candidate in /home/ec2-user/anaconda3/envs/*/bin/python /home/ec2-user/anaconda3/bin/python; do
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then PY=$candidate; break; fi
  done
fi
if [ -z "$PY" ]; then echo "trailhound: no conda env with Python 3.11+ on this instance" >&2; exit 1; fi
echo "trailhound: installing into $PY"
cd {HOME}
if [ -n "$(ls -A wheels 2>/dev/null)" ]; then
  PIP_SOURCE="--no-index --find-links wheels"
else
  PIP_SOURCE=""  # a template-only bundle: PyPI (needs notebookInternet=true)
fi
"$PY" -m pip install --quiet $PIP_SOURCE -r requirements.txt
"$PY" -m pip install --quiet $PIP_SOURCE -r requirements-notebooks.txt \
  || echo "trailhound: playbook extras (requirements-notebooks.txt) not installed; the kernel's own are used" >&2
SITE=$("$PY" -c 'import site; print(site.getsitepackages()[0])')
echo "{HOME}/functions" > "$SITE/trailhound.pth"
"$PY" -c 'import trailhound; print("trailhound ready:", trailhound.__file__)'
TRAILHOUND_INSTALL
chmod +x "$HOME_DIR/install.sh"
chown ec2-user:ec2-user "$HOME_DIR/install.sh"
nohup sudo -u ec2-user bash "$HOME_DIR/install.sh" > "$HOME_DIR/install.log" 2>&1 &
"""


class Notebook(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, environment: Mapping[str, str],
                 direct_internet: bool, engine: str, skip_dependencies: bool,
                 log_retention: logs.RetentionDays, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(self, "VolumeKey", enable_key_rotation=True, removal_policy=removal_policy,
                           pending_window=Duration.days(7),
                           description="TrailHound: encrypts the notebook instance's ML storage volume")
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                             description="TrailHound notebook: query the store, approvals, containment dry runs")
        self.bundle = notebook_bundle(self, "Bundle", skip_dependencies)
        self.bundle.grant_read(self.role)
        self.vpc: ec2.Vpc | None = None
        self.security_group: ec2.SecurityGroup | None = None
        subnet_id: str | None = None
        security_group_ids: list[str] | None = None
        if not direct_internet:
            self._network(engine, log_retention, removal_policy)
            assert self.vpc is not None and self.security_group is not None
            subnet_id = self.vpc.isolated_subnets[0].subnet_id
            security_group_ids = [self.security_group.security_group_id]
        script = on_start_script(self.bundle.s3_object_url, environment)
        self.lifecycle = sagemaker.CfnNotebookInstanceLifecycleConfig(
            self, "Lifecycle",
            on_start=[sagemaker.CfnNotebookInstanceLifecycleConfig.NotebookInstanceLifecycleHookProperty(
                content=Fn.base64(script))])
        self.instance = sagemaker.CfnNotebookInstance(
            self, "Instance",
            instance_type=INSTANCE_TYPE,
            role_arn=self.role.role_arn,
            root_access="Disabled",
            kms_key_id=self.key.key_id,
            direct_internet_access="Enabled" if direct_internet else "Disabled",
            subnet_id=subnet_id,
            security_group_ids=security_group_ids,
            platform_identifier=PLATFORM,
            volume_size_in_gb=10,
            lifecycle_config_name=self.lifecycle.attr_notebook_instance_lifecycle_config_name,
        )
        self.instance.node.add_dependency(self.role)
        if direct_internet:
            NagSuppressions.add_resource_suppressions(self.instance, [
                {"id": "AwsSolutions-SM1",
                 "reason": "Notebook/Instance: deployed with context notebookInternet=true for a workshop "
                           "account that does not pay for the VPC and its interface endpoints; no VPC is "
                           "created in this mode (see docs/deploy.md, 'Notebook network')."},
                {"id": "AwsSolutions-SM3",
                 "reason": "Notebook/Instance: direct internet access chosen with context "
                           "notebookInternet=true for a short-lived workshop (installs from PyPI, no VPC "
                           "endpoints); the default deployment disables it (see docs/deploy.md)."},
            ])

    def _network(self, engine: str, log_retention: logs.RetentionDays, removal_policy: RemovalPolicy) -> None:
        self.vpc = ec2.Vpc(
            self, "Vpc", max_azs=1, nat_gateways=0, ip_addresses=ec2.IpAddresses.cidr("10.72.0.0/24"),
            subnet_configuration=[ec2.SubnetConfiguration(name="notebook", cidr_mask=26,
                                                          subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDB": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
            },
            restrict_default_security_group=False,
        )
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=log_retention, removal_policy=removal_policy)
        self.vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                              traffic_type=ec2.FlowLogTrafficType.ALL)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=self.vpc, allow_all_outbound=False,
            description="TrailHound notebook: HTTPS to the VPC endpoints only")
        # No NAT and no internet gateway: the subnet's routes reach only the VPC (interface
        # endpoints) and the S3 / DynamoDB gateway endpoints, so "HTTPS anywhere" means exactly those.
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443),
                                            "HTTPS to the VPC and gateway endpoints (no other route exists)")
        services = [ec2.InterfaceVpcEndpointAwsService.STS,
                    ec2.InterfaceVpcEndpointAwsService.CLOUDTRAIL if engine == "lake"
                    else ec2.InterfaceVpcEndpointAwsService.ATHENA,
                    ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
                    ec2.InterfaceVpcEndpointAwsService.EC2,
                    ec2.InterfaceVpcEndpointAwsService.LAMBDA_]
        endpoint_sg = ec2.SecurityGroup(self, "EndpointSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
                                        description="TrailHound notebook VPC endpoints: HTTPS from the notebook")
        endpoint_sg.add_ingress_rule(self.security_group, ec2.Port.tcp(443), "HTTPS from the notebook instance")
        for service in services:
            self.vpc.add_interface_endpoint(
                service.short_name.replace(".", "-"), service=service, private_dns_enabled=True,
                security_groups=[endpoint_sg], open=False)
