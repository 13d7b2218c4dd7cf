/*
id: cloudtrail_log_bucket_lifecycle_shortened
title: Short expiration lifecycle rule put on a bucket that receives CloudTrail logs
description: >-
  PutBucketLifecycle set an object expiration of 30 days or less on a bucket that CloudTrail
  delivers to (seen in the window as a trail's S3 bucket in CreateTrail/UpdateTrail, as the
  bucket CloudTrail itself checks with GetBucketAcl, or as a bucket whose policy grants
  cloudtrail.amazonaws.com), or an expiration of 3 days or less on any existing bucket (one not
  created in the window). Logs that expire within a day are as good as not kept.
severity: high
attack: [T1562.008, T1485]
techniques: [aws.defense-evasion.cloudtrail-lifecycle-rule]
schedule: 15m
lookback: 1d
dedup_key: [actor_arn, target]
threshold: null
response: null
false_positives:
  - Scratch buckets (query results, build artefacts) given a short expiry after creation by hand; allowlist the principal that manages them.
runbook: notebooks/tampering_and_exposure.ipynb
*/
WITH trail_buckets AS (
  SELECT DISTINCT coalesce(element_at(requestParameters, 's3BucketName'), element_at(requestParameters, 'bucketName')) AS bucket
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND errorCode IS NULL
    AND (
      (eventSource = 'cloudtrail.amazonaws.com' AND eventName IN ('CreateTrail', 'UpdateTrail'))
      OR (eventSource = 's3.amazonaws.com' AND eventName IN ('GetBucketAcl', 'PutObject')
          AND userIdentity.invokedBy = 'cloudtrail.amazonaws.com')
      OR (eventSource = 's3.amazonaws.com' AND eventName = 'PutBucketPolicy'
          AND strpos(element_at(requestParameters, 'bucketPolicy'), 'cloudtrail.amazonaws.com') > 0)
    )
),
new_buckets AS (
  SELECT DISTINCT element_at(requestParameters, 'bucketName') AS bucket
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 's3.amazonaws.com' AND eventName = 'CreateBucket' AND errorCode IS NULL
),
lifecycle AS (
  SELECT *,
    element_at(requestParameters, 'bucketName') AS bucket,
    element_at(requestParameters, 'LifecycleConfiguration') AS rules
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 's3.amazonaws.com'
    AND eventName IN ('PutBucketLifecycle', 'PutBucketLifecycleConfiguration')
    AND errorCode IS NULL
)
SELECT
  ARRAY[l.eventID] AS event_ids,
  l.eventTime AS first_seen,
  l.eventTime AS last_seen,
  l.userIdentity.arn AS actor_arn,
  l.userIdentity.type AS actor_type,
  l.userIdentity.accessKeyId AS access_key_id,
  l.sourceIPAddress AS source_ip,
  l.userAgent AS user_agent,
  l.recipientAccountId AS account_id,
  l.awsRegion AS region,
  l.eventName AS event_name,
  l.bucket AS target,
  coalesce(l.userIdentity.sessionContext.sessionIssuer.arn, l.userIdentity.arn) AS principal_arn,
  CASE WHEN t.bucket IS NOT NULL THEN 'bucket receives CloudTrail logs' ELSE 'existing bucket' END AS details,
  l.rules AS lifecycle_rules
FROM lifecycle l
LEFT JOIN trail_buckets t ON t.bucket = l.bucket
LEFT JOIN new_buckets n ON n.bucket = l.bucket
WHERE (t.bucket IS NOT NULL
       AND regexp_like(l.rules, '"Expiration"\s*:\s*\{[^{}]*"Days"\s*:\s*"?([1-9]|[12][0-9]|30)"?\s*[,}]'))
   OR (n.bucket IS NULL
       AND regexp_like(l.rules, '"Expiration"\s*:\s*\{[^{}]*"Days"\s*:\s*"?[1-3]"?\s*[,}]'))
