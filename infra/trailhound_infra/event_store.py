"""The event store the detections query: an existing CloudTrail Lake event data store, or (the
default, since Lake is closed to new customers) an Athena table over a trail this stack creates.

Athena variant: a multi-Region trail (log file validation on, SSE-KMS) into a versioned,
encrypted log bucket with lifecycle rules and server access logging; a Glue database with the
CloudTrail table exactly as the Athena user guide documents it ("Create the table for CloudTrail
logs in Athena using partition projection"), plus one addition: the guide's table covers a single
Region, so the Region path segment is a second projected partition (``trail_region``, an enum of
the Regions in context ``trailRegions``) and one table covers the whole multi-Region trail; and
an Athena workgroup that enforces its configuration, encrypts results with KMS and cancels any
query that scans more than ``athenaBytesScannedCutoffGb``.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from cdk_nag import NagSuppressions
from constructs import Construct

from trailhound_infra.settings import Settings

DATABASE_NAME = "trailhound"
TABLE_NAME = "cloudtrail_logs"
WORKGROUP_NAME = "trailhound"
PROJECTION_START = "2024/01/01"
REGION_PARTITION = "trail_region"

# The documented table, column by column (Athena user guide, partition projection variant).
CLOUDTRAIL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("eventversion", "string"),
    ("useridentity", "struct<type:string,principalid:string,arn:string,accountid:string,invokedby:string,"
                     "accesskeyid:string,username:string,onbehalfof:struct<userid:string,identitystorearn:string>,"
                     "sessioncontext:struct<attributes:struct<mfaauthenticated:string,creationdate:string>,"
                     "sessionissuer:struct<type:string,principalid:string,arn:string,accountid:string,"
                     "username:string>,ec2roledelivery:string,webidfederationdata:struct<federatedprovider:string,"
                     "attributes:map<string,string>>>>"),
    ("eventtime", "string"),
    ("eventsource", "string"),
    ("eventname", "string"),
    ("awsregion", "string"),
    ("sourceipaddress", "string"),
    ("useragent", "string"),
    ("errorcode", "string"),
    ("errormessage", "string"),
    ("requestparameters", "string"),
    ("responseelements", "string"),
    ("additionaleventdata", "string"),
    ("requestid", "string"),
    ("eventid", "string"),
    ("readonly", "string"),
    ("resources", "array<struct<arn:string,accountid:string,type:string>>"),
    ("eventtype", "string"),
    ("apiversion", "string"),
    ("recipientaccountid", "string"),
    ("serviceeventdetails", "string"),
    ("sharedeventid", "string"),
    ("vpcendpointid", "string"),
    ("vpcendpointaccountid", "string"),
    ("eventcategory", "string"),
    ("addendum", "struct<reason:string,updatedfields:string,originalrequestid:string,originaleventid:string>"),
    ("sessioncredentialfromconsole", "string"),
    ("edgedevicedetails", "string"),
    ("tlsdetails", "struct<tlsversion:string,ciphersuite:string,clientprovidedhostheader:string>"),
)


class EventStore(Construct):
    """Exposes ``store_spec`` (the ``TRAILHOUND_STORE`` value) and ``grant_query``."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings,
                 removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self.trail: cloudtrail.Trail | None = None
        self.log_bucket: s3.Bucket | None = None
        self.results_bucket: s3.Bucket | None = None
        self.access_log_bucket: s3.Bucket | None = None
        self.key: kms.Key | None = None
        self.workgroup: athena.CfnWorkGroup | None = None
        if settings.event_data_store_id is not None:
            self.event_data_store_arn = _eds_arn(settings.event_data_store_id)
            self.store_spec = f"lake:{settings.event_data_store_id}"
            self.engine = "lake"
        else:
            self._athena(settings, removal_policy)
            self.store_spec = f"athena:{WORKGROUP_NAME}/{DATABASE_NAME}.{TABLE_NAME}"
            self.engine = "athena"

    # --- Athena -------------------------------------------------------------------------------
    def _athena(self, settings: Settings, removal_policy: RemovalPolicy) -> None:
        destroy = removal_policy == RemovalPolicy.DESTROY
        self.key = kms.Key(self, "Key", enable_key_rotation=True, removal_policy=removal_policy,
                           pending_window=Duration.days(7),
                           description="TrailHound: encrypts the CloudTrail log files and Athena query results")
        self.access_log_bucket = s3.Bucket(
            self, "AccessLogs", encryption=s3.BucketEncryption.S3_MANAGED,  # the log delivery service needs SSE-S3
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(90))],
            removal_policy=removal_policy, auto_delete_objects=destroy)
        NagSuppressions.add_resource_suppressions(self.access_log_bucket, [{
            "id": "AwsSolutions-S1",
            "reason": "AccessLogs is the server-access-log target of the trail and results buckets; "
                      "logging it into itself would log its own log deliveries without end."}])
        self.log_bucket = s3.Bucket(
            self, "TrailLogs", encryption=s3.BucketEncryption.KMS, encryption_key=self.key, bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True, versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_log_bucket, server_access_logs_prefix="trail-logs/",
            lifecycle_rules=[s3.LifecycleRule(
                id="trail-retention",
                transitions=[s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                                           transition_after=Duration.days(30))]
                if settings.trail_retention_days > 60 else None,
                expiration=Duration.days(settings.trail_retention_days),
                noncurrent_version_expiration=Duration.days(7),
                abort_incomplete_multipart_upload_after=Duration.days(1))],
            removal_policy=removal_policy, auto_delete_objects=destroy)
        self.trail = cloudtrail.Trail(
            self, "Trail", bucket=self.log_bucket, encryption_key=self.key, is_multi_region_trail=True,
            include_global_service_events=True, enable_file_validation=True,
            management_events=cloudtrail.ReadWriteType.ALL)
        if destroy:
            # Empty the log bucket only after the trail is gone, or a late delivery re-fills it.
            auto_delete = self.log_bucket.node.try_find_child("AutoDeleteObjectsCustomResource")
            if auto_delete is not None:
                auto_delete.node.add_dependency(self.trail)
        self.results_bucket = s3.Bucket(
            self, "QueryResults", encryption=s3.BucketEncryption.KMS, encryption_key=self.key, bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_log_bucket, server_access_logs_prefix="query-results/",
            lifecycle_rules=[s3.LifecycleRule(id="expire-results", expiration=Duration.days(7),
                                              abort_incomplete_multipart_upload_after=Duration.days(1))],
            removal_policy=removal_policy, auto_delete_objects=destroy)

        if destroy:
            # Empty the access-log bucket last: the other buckets' deletion is logged into it.
            auto_delete = self.access_log_bucket.node.try_find_child("AutoDeleteObjectsCustomResource")
            if auto_delete is not None:
                auto_delete.node.add_dependency(self.log_bucket, self.results_bucket)
        self.database = glue.CfnDatabase(self, "Database", catalog_id=Aws.ACCOUNT_ID, database_input=glue.CfnDatabase.DatabaseInputProperty(
            name=DATABASE_NAME, description="TrailHound: CloudTrail logs of this account"))
        prefix = f"s3://{self.log_bucket.bucket_name}/AWSLogs/{Aws.ACCOUNT_ID}/CloudTrail"
        self.table = glue.CfnTable(
            self, "CloudTrailTable", catalog_id=Aws.ACCOUNT_ID, database_name=DATABASE_NAME,
            table_input=glue.CfnTable.TableInputProperty(
                name=TABLE_NAME,
                description="CloudTrail logs with partition projection (Athena user guide table, all trail Regions)",
                table_type="EXTERNAL_TABLE",
                partition_keys=[glue.CfnTable.ColumnProperty(name=REGION_PARTITION, type="string"),
                                glue.CfnTable.ColumnProperty(name="timestamp", type="string")],
                parameters={
                    "classification": "cloudtrail",
                    "EXTERNAL": "TRUE",
                    "projection.enabled": "true",
                    f"projection.{REGION_PARTITION}.type": "enum",
                    f"projection.{REGION_PARTITION}.values": ",".join(settings.trail_regions),
                    "projection.timestamp.type": "date",
                    "projection.timestamp.format": "yyyy/MM/dd",
                    "projection.timestamp.interval": "1",
                    "projection.timestamp.interval.unit": "DAYS",
                    "projection.timestamp.range": f"{PROJECTION_START},NOW",
                    "storage.location.template": f"{prefix}/${{{REGION_PARTITION}}}/${{timestamp}}",
                },
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in CLOUDTRAIL_COLUMNS],
                    location=f"{prefix}/",
                    input_format="com.amazon.emr.cloudtrail.CloudTrailInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.apache.hive.hcatalog.data.JsonSerDe"),
                ),
            ))
        self.table.node.add_dependency(self.database)
        self.workgroup = athena.CfnWorkGroup(
            self, "WorkGroup", name=WORKGROUP_NAME, recursive_delete_option=True, state="ENABLED",
            description="TrailHound detections and investigations",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=settings.athena_bytes_scanned_cutoff_gb * 1024 ** 3,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(selected_engine_version="AUTO"),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.results_bucket.bucket_name}/results/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=self.key.key_arn)),
            ))

    # --- grants -------------------------------------------------------------------------------
    def grant_query(self, grantee: iam.IGrantable) -> None:
        """Permission to run Lake-dialect SQL against this store (and read what it returns)."""
        if self.engine == "lake":
            iam.Grant.add_to_principal(
                grantee=grantee, resource_arns=[self.event_data_store_arn],
                actions=["cloudtrail:StartQuery", "cloudtrail:DescribeQuery", "cloudtrail:GetQueryResults",
                         "cloudtrail:CancelQuery", "cloudtrail:GetEventDataStore"])
            return
        assert self.workgroup and self.log_bucket and self.results_bucket and self.key
        stack = Stack.of(self)
        iam.Grant.add_to_principal(
            grantee=grantee,
            resource_arns=[stack.format_arn(service="athena", resource="workgroup", resource_name=WORKGROUP_NAME)],
            actions=["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults",
                     "athena:StopQueryExecution", "athena:GetWorkGroup"])
        iam.Grant.add_to_principal(
            grantee=grantee,
            resource_arns=[stack.format_arn(service="glue", resource="catalog"),
                           stack.format_arn(service="glue", resource="database", resource_name=DATABASE_NAME),
                           stack.format_arn(service="glue", resource="table",
                                            resource_name=f"{DATABASE_NAME}/{TABLE_NAME}")],
            actions=["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"])
        # Athena reads the logs and writes results with the caller's credentials.
        iam.Grant.add_to_principal(grantee=grantee, resource_arns=[self.log_bucket.bucket_arn,
                                                                   self.results_bucket.bucket_arn],
                                   actions=["s3:ListBucket", "s3:GetBucketLocation"])
        iam.Grant.add_to_principal(grantee=grantee, resource_arns=[self.log_bucket.arn_for_objects("AWSLogs/*")],
                                   actions=["s3:GetObject"])
        iam.Grant.add_to_principal(grantee=grantee, resource_arns=[self.results_bucket.arn_for_objects("results/*")],
                                   actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload",
                                            "s3:ListMultipartUploadParts"])
        iam.Grant.add_to_principal(grantee=grantee, resource_arns=[self.key.key_arn],
                                   actions=["kms:Decrypt", "kms:GenerateDataKey"])

    def query_wildcards(self) -> list[str]:
        """The nag ``appliesTo`` entries ``grant_query`` produces (object-key wildcards)."""
        if self.engine == "lake":
            return []
        return [f"Resource::<{Stack.of(self).get_logical_id(self.log_bucket.node.default_child)}.Arn>/AWSLogs/*",
                f"Resource::<{Stack.of(self).get_logical_id(self.results_bucket.node.default_child)}.Arn>/results/*"]


def _eds_arn(value: str) -> str:
    if value.startswith("arn:"):
        return value
    return f"arn:{Aws.PARTITION}:cloudtrail:{Aws.REGION}:{Aws.ACCOUNT_ID}:eventdatastore/{value}"
