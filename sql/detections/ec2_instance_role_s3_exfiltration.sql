/*
id: ec2_instance_role_s3_exfiltration
title: Instance role listed the buckets, then wrote to an unfamiliar bucket
description: >-
  Needs S3 data events in the trail. An instance-profile session called ListBuckets and then
  uploaded objects (PutObject, CopyObject, multipart upload) to a bucket that is foreign to the
  account's activity in the window: owned by another account, or touched by no other principal
  and not by this session before it listed the buckets. Workloads write to the bucket they are
  configured with and do not need to list the account's buckets first; listing and then
  uploading to a new place is data leaving through a compromised instance.
severity: high
attack: [T1537, T1530]
techniques: []
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response:
  action: quarantine_instance
  params: {instance_id: instance_id}
false_positives:
  - A backup agent on an instance that discovers its destination bucket with ListBuckets (allowlist its role).
runbook: notebooks/compromised_instance.ipynb
*/
WITH s3 AS (
  SELECT
    eventID, eventTime, eventName, userIdentity.arn AS arn, userIdentity.type AS utype,
    userIdentity.accessKeyId AS akid, sourceIPAddress, userAgent, recipientAccountId, awsRegion,
    userIdentity.sessionContext.sessionIssuer.arn AS role_arn,
    userIdentity.sessionContext.sessionIssuer.userName AS role_name,
    element_at(requestParameters, 'bucketName') AS bucket,
    (userIdentity.type = 'AssumedRole'
      AND (userIdentity.sessionContext.ec2RoleDelivery IS NOT NULL
           OR regexp_like(userIdentity.principalId, ':i-[0-9a-fA-F]{8,17}$'))) AS instance_creds,
    CASE WHEN resources[1].type = 'AWS::S3::Bucket' THEN resources[1].accountId
         WHEN resources[2].type = 'AWS::S3::Bucket' THEN resources[2].accountId END AS bucket_owner
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 's3.amazonaws.com'
    AND errorCode IS NULL
),
listed AS (
  SELECT arn, min(eventTime) AS listed_at
  FROM s3
  WHERE instance_creds AND eventName = 'ListBuckets'
  GROUP BY arn
),
uploads AS (
  SELECT s.*, l.listed_at
  FROM s3 s
  JOIN listed l ON l.arn = s.arn
  WHERE s.eventName IN ('PutObject', 'CopyObject', 'CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload')
    AND s.eventTime >= l.listed_at
),
familiar AS (
  SELECT DISTINCT u.arn, u.bucket
  FROM uploads u
  JOIN s3 o ON o.bucket = u.bucket
  WHERE o.arn <> u.arn OR o.eventTime < u.listed_at
)
SELECT
  array_agg(u.eventID) AS event_ids,
  min(u.eventTime) AS first_seen,
  max(u.eventTime) AS last_seen,
  u.arn AS actor_arn,
  arbitrary(u.utype) AS actor_type,
  max_by(u.akid, u.eventTime) AS access_key_id,
  max_by(u.sourceIPAddress, u.eventTime) AS source_ip,
  max_by(u.userAgent, u.eventTime) AS user_agent,
  arbitrary(u.recipientAccountId) AS account_id,
  arbitrary(u.awsRegion) AS region,
  array_join(array_sort(array_agg(DISTINCT u.eventName)), ',') AS event_name,
  u.bucket AS target,
  arbitrary(u.role_arn) AS principal_arn,
  arbitrary(u.role_name) AS role_name,
  coalesce(nullif(regexp_extract(u.arn, 'i-[0-9a-fA-F]{8,17}$'), ''), u.arn) AS instance_id,
  arbitrary(u.bucket_owner) AS bucket_owner,
  count(*) AS n_events
FROM uploads u
LEFT JOIN familiar f ON f.arn = u.arn AND f.bucket = u.bucket
WHERE f.bucket IS NULL
   OR (u.bucket_owner IS NOT NULL AND u.bucket_owner <> u.recipientAccountId)
GROUP BY u.arn, u.bucket
