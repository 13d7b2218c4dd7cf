-- Calls that blind the account's monitoring or expose its data, newest first: CloudTrail and
-- GuardDuty changes (and the other log/monitoring switches), bucket policies, ACLs and Block
-- Public Access, shared snapshots and images. `resource` is the trail, detector, bucket,
-- snapshot or image named in the request. Parameters: $START_TIME, $END_TIME.
SELECT eventTime AS event_time,
       eventName AS event_name,
       CASE
         WHEN eventSource = 'cloudtrail.amazonaws.com' THEN 'cloudtrail'
         WHEN eventSource = 'guardduty.amazonaws.com' THEN 'guardduty'
         WHEN eventSource = 's3.amazonaws.com' AND eventName LIKE '%Lifecycle%' THEN 'cloudtrail'
         WHEN eventSource IN ('s3.amazonaws.com', 's3-control.amazonaws.com') THEN 'bucket'
         WHEN eventName = 'ModifySnapshotAttribute' THEN 'snapshot'
         WHEN eventName = 'ModifyImageAttribute' THEN 'image'
         WHEN eventSource = 'rds.amazonaws.com' THEN 'db_snapshot'
         ELSE 'monitoring'
       END AS kind,
       coalesce(element_at(requestParameters, 'bucketName'), element_at(requestParameters, 'trailName'),
                element_at(requestParameters, 'name'), element_at(requestParameters, 'detectorId'),
                element_at(requestParameters, 'snapshotId'), element_at(requestParameters, 'imageId'),
                element_at(requestParameters, 'dBSnapshotIdentifier'),
                element_at(requestParameters, 'dBClusterSnapshotIdentifier'),
                element_at(requestParameters, 'configurationRecorderName'),
                element_at(requestParameters, 'resolverQueryLogConfigId'),
                element_at(requestParameters, 'accountId')) AS resource,
       userIdentity.arn AS actor_arn,
       userIdentity.accessKeyId AS access_key_id,
       sourceIPAddress AS source_ip,
       awsRegion AS region,
       recipientAccountId AS account_id,
       errorCode AS error_code,
       eventID AS event_id
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND (
    (eventSource = 'cloudtrail.amazonaws.com'
     AND eventName IN ('StopLogging', 'DeleteTrail', 'UpdateTrail', 'PutEventSelectors', 'PutInsightSelectors',
                       'DeleteEventDataStore', 'StopEventDataStoreIngestion'))
    OR (eventSource = 'guardduty.amazonaws.com'
        AND eventName IN ('DeleteDetector', 'UpdateDetector', 'CreateFilter', 'UpdateFilter', 'CreateIPSet',
                          'UpdateIPSet', 'DisassociateFromMasterAccount', 'DisassociateFromAdministratorAccount',
                          'DeleteMembers', 'DisassociateMembers', 'StopMonitoringMembers',
                          'DeletePublishingDestination'))
    OR (eventSource = 's3.amazonaws.com'
        AND eventName IN ('PutBucketPolicy', 'PutBucketAcl', 'DeleteBucketPublicAccessBlock',
                          'PutBucketPublicAccessBlock', 'PutBucketLifecycle', 'PutBucketLifecycleConfiguration',
                          'PutBucketOwnershipControls', 'DeleteBucketOwnershipControls'))
    OR (eventSource = 's3-control.amazonaws.com'
        AND eventName IN ('DeletePublicAccessBlock', 'PutPublicAccessBlock'))
    OR (eventSource = 'ec2.amazonaws.com'
        AND eventName IN ('ModifySnapshotAttribute', 'ModifyImageAttribute', 'DeleteFlowLogs'))
    OR (eventSource = 'rds.amazonaws.com'
        AND eventName IN ('ModifyDBSnapshotAttribute', 'ModifyDBClusterSnapshotAttribute'))
    OR (eventSource = 'config.amazonaws.com'
        AND eventName IN ('StopConfigurationRecorder', 'DeleteConfigurationRecorder', 'DeleteDeliveryChannel'))
    OR (eventSource = 'securityhub.amazonaws.com'
        AND eventName IN ('DisableSecurityHub', 'BatchDisableStandards', 'DeleteInsight'))
    OR (eventSource = 'route53resolver.amazonaws.com'
        AND eventName IN ('DeleteResolverQueryLogConfig', 'DisassociateResolverQueryLogConfig'))
    OR (eventSource = 'organizations.amazonaws.com' AND eventName = 'LeaveOrganization')
  )
ORDER BY eventTime DESC
LIMIT 500
