/*
id: ec2_instance_role_bucket_reconnaissance
title: Instance role listed the buckets and inspected or changed several of them
description: >-
  An instance-profile session called ListBuckets and then read or changed the access
  configuration of several distinct buckets (policy, ACL, policy status, Block Public Access,
  location, encryption) or set a bucket policy. This is the management-event view of an intruder
  on an instance looking for a bucket to read from or to exfiltrate through; workloads use the
  buckets they were configured with and do not survey them.
severity: medium
attack: [T1619, T1580]
techniques: [aws.discovery.ec2-enumerate-from-instance]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn]
threshold: {column: n_buckets, min: 3}
response: null
false_positives:
  - A security scanner or backup tool running on an instance with its instance profile (allowlist its role).
runbook: notebooks/compromised_instance.ipynb
*/
WITH s3 AS (
  SELECT
    eventID, eventTime, eventName, userIdentity.arn AS arn, userIdentity.type AS utype,
    userIdentity.accessKeyId AS akid, sourceIPAddress, userAgent, recipientAccountId, awsRegion,
    userIdentity.sessionContext.sessionIssuer.arn AS role_arn,
    element_at(requestParameters, 'bucketName') AS bucket
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 's3.amazonaws.com'
    AND userIdentity.type = 'AssumedRole'
    AND (userIdentity.sessionContext.ec2RoleDelivery IS NOT NULL
         OR regexp_like(userIdentity.principalId, ':i-[0-9a-fA-F]{8,17}$'))
    AND eventName IN ('ListBuckets', 'GetBucketPolicy', 'GetBucketAcl', 'GetBucketPolicyStatus',
                      'GetBucketPublicAccessBlock', 'GetBucketLocation', 'GetBucketEncryption',
                      'GetBucketVersioning', 'GetBucketOwnershipControls', 'PutBucketPolicy', 'PutBucketAcl')
),
listed AS (
  SELECT arn, min(eventTime) AS listed_at FROM s3 WHERE eventName = 'ListBuckets' GROUP BY arn
),
survey AS (
  SELECT s.* FROM s3 s JOIN listed l ON l.arn = s.arn WHERE s.eventTime >= l.listed_at
)
SELECT
  array_agg(eventID) AS event_ids,
  min(eventTime) AS first_seen,
  max(eventTime) AS last_seen,
  arn AS actor_arn,
  arbitrary(utype) AS actor_type,
  max_by(akid, eventTime) AS access_key_id,
  max_by(sourceIPAddress, eventTime) AS source_ip,
  max_by(userAgent, eventTime) AS user_agent,
  arbitrary(recipientAccountId) AS account_id,
  arbitrary(awsRegion) AS region,
  array_join(array_sort(array_agg(DISTINCT eventName)), ',') AS event_name,
  array_join(array_sort(array_agg(DISTINCT bucket)), ',') AS target,
  arbitrary(role_arn) AS principal_arn,
  coalesce(nullif(regexp_extract(arn, 'i-[0-9a-fA-F]{8,17}$'), ''), arn) AS instance_id,
  count(DISTINCT bucket) AS n_buckets,
  count_if(eventName IN ('PutBucketPolicy', 'PutBucketAcl')) AS n_changes
FROM survey
GROUP BY arn
HAVING count(DISTINCT bucket) >= $THRESHOLD
