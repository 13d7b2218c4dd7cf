/*
id: s3_bucket_made_public
title: S3 bucket or account opened to public access
description: >-
  A principal removed the guard rails that keep S3 data private, or granted the public access
  directly: Block Public Access deleted or set with any of its four settings off (for a bucket or
  for the whole account), a bucket ACL (or canned ACL at creation) granting AllUsers or
  AuthenticatedUsers, i.e. anyone on the internet or any AWS customer. Removing a bucket's Block
  Public Access just before deleting the bucket (an IaC teardown) is not flagged.
severity: high
attack: [T1530, T1562.007]
techniques: []
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target, event_name]
threshold: null
response:
  action: block_public_bucket
  params: {bucket: bucket_name}
false_positives:
  - A bucket that hosts a public website on purpose (allowlist its IaC role; prefer CloudFront with OAC).
runbook: notebooks/tampering_and_exposure.ipynb
*/
WITH changes AS (
  SELECT
    eventID, eventTime, eventName, userIdentity.arn AS arn, userIdentity.type AS utype,
    userIdentity.accessKeyId AS akid, sourceIPAddress, userAgent, recipientAccountId, awsRegion,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    element_at(requestParameters, 'bucketName') AS bucket,
    CASE
      WHEN eventName IN ('DeleteBucketPublicAccessBlock', 'DeleteAccountPublicAccessBlock')
        THEN 'Block Public Access removed'
      WHEN eventName IN ('PutBucketPublicAccessBlock', 'PutAccountPublicAccessBlock')
           AND (json_extract_scalar(element_at(requestParameters, 'PublicAccessBlockConfiguration'), '$.BlockPublicAcls') = 'false'
             OR json_extract_scalar(element_at(requestParameters, 'PublicAccessBlockConfiguration'), '$.IgnorePublicAcls') = 'false'
             OR json_extract_scalar(element_at(requestParameters, 'PublicAccessBlockConfiguration'), '$.BlockPublicPolicy') = 'false'
             OR json_extract_scalar(element_at(requestParameters, 'PublicAccessBlockConfiguration'), '$.RestrictPublicBuckets') = 'false')
        THEN 'Block Public Access turned off'
      WHEN eventName IN ('PutBucketAcl', 'CreateBucket')
           AND (strpos(coalesce(element_at(requestParameters, 'AccessControlPolicy'), ''), 'acs.amazonaws.com/groups/global/AllUsers') > 0
             OR strpos(coalesce(element_at(requestParameters, 'AccessControlPolicy'), ''), 'acs.amazonaws.com/groups/global/AuthenticatedUsers') > 0
             OR regexp_like(coalesce(element_at(requestParameters, 'x-amz-acl'), ''), 'public-read|authenticated-read')
             OR strpos(coalesce(element_at(requestParameters, 'x-amz-grant-read'), '')
                       || coalesce(element_at(requestParameters, 'x-amz-grant-write'), '')
                       || coalesce(element_at(requestParameters, 'x-amz-grant-full-control'), ''), 'acs.amazonaws.com/groups/global/') > 0)
        THEN 'public ACL granted'
    END AS change
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 's3.amazonaws.com'
    AND eventName IN ('DeleteBucketPublicAccessBlock', 'DeleteAccountPublicAccessBlock',
                      'PutBucketPublicAccessBlock', 'PutAccountPublicAccessBlock', 'PutBucketAcl', 'CreateBucket')
    AND errorCode IS NULL
),
deleted_buckets AS (
  SELECT DISTINCT
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    element_at(requestParameters, 'bucketName') AS bucket
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 's3.amazonaws.com'
    AND eventName = 'DeleteBucket'
    AND errorCode IS NULL
)
SELECT
  ARRAY[c.eventID] AS event_ids,
  c.eventTime AS first_seen,
  c.eventTime AS last_seen,
  c.arn AS actor_arn,
  c.utype AS actor_type,
  c.akid AS access_key_id,
  c.sourceIPAddress AS source_ip,
  c.userAgent AS user_agent,
  c.recipientAccountId AS account_id,
  c.awsRegion AS region,
  c.eventName AS event_name,
  coalesce(c.bucket, concat('account:', c.recipientAccountId)) AS target,
  c.principal_arn AS principal_arn,
  c.bucket AS bucket_name,
  c.change AS details
FROM changes c
LEFT JOIN deleted_buckets d
  ON d.principal_arn = c.principal_arn AND d.bucket = c.bucket
     AND c.eventName = 'DeleteBucketPublicAccessBlock'
WHERE c.change IS NOT NULL
  AND d.bucket IS NULL
