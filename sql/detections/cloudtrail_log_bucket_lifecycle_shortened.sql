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
WITH bucket_events AS (
  SELECT *,
    coalesce(element_at(requestParameters, 's3BucketName'), element_at(requestParameters, 'bucketName')) AS bucket,
    CASE
      WHEN eventSource = 'cloudtrail.amazonaws.com' THEN 1
      WHEN eventName = 'GetBucketAcl' AND userIdentity.invokedBy = 'cloudtrail.amazonaws.com' THEN 1
      WHEN eventName = 'PutBucketPolicy'
           AND strpos(element_at(requestParameters, 'bucketPolicy'), 'cloudtrail.amazonaws.com') > 0 THEN 1
      ELSE 0
    END AS links_trail,
    CASE WHEN eventName = 'CreateBucket' THEN 1 ELSE 0 END AS creates
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource IN ('cloudtrail.amazonaws.com', 's3.amazonaws.com')
    AND eventName IN ('CreateTrail', 'UpdateTrail', 'GetBucketAcl', 'PutBucketPolicy', 'CreateBucket',
                      'PutBucketLifecycle', 'PutBucketLifecycleConfiguration')
    AND errorCode IS NULL
    AND (eventName IN ('CreateTrail', 'UpdateTrail', 'CreateBucket', 'PutBucketLifecycle', 'PutBucketLifecycleConfiguration')
         OR (eventName = 'GetBucketAcl' AND userIdentity.invokedBy = 'cloudtrail.amazonaws.com')
         OR (eventName = 'PutBucketPolicy'
             AND strpos(element_at(requestParameters, 'bucketPolicy'), 'cloudtrail.amazonaws.com') > 0))
),
marked AS (
  SELECT *,
    max(links_trail) OVER (PARTITION BY bucket) AS trail_bucket,
    max(creates) OVER (PARTITION BY bucket) AS new_bucket,
    element_at(requestParameters, 'LifecycleConfiguration') AS rules
  FROM bucket_events
)
SELECT
  ARRAY[eventID] AS event_ids,
  eventTime AS first_seen,
  eventTime AS last_seen,
  userIdentity.arn AS actor_arn,
  userIdentity.type AS actor_type,
  userIdentity.accessKeyId AS access_key_id,
  sourceIPAddress AS source_ip,
  userAgent AS user_agent,
  recipientAccountId AS account_id,
  awsRegion AS region,
  eventName AS event_name,
  bucket AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  CASE WHEN trail_bucket = 1 THEN 'bucket receives CloudTrail logs' ELSE 'existing bucket' END AS details,
  rules AS lifecycle_rules
FROM marked
WHERE eventSource = 's3.amazonaws.com'
  AND eventName IN ('PutBucketLifecycle', 'PutBucketLifecycleConfiguration')
  AND ((trail_bucket = 1
        AND regexp_like(rules, '"Expiration"\s*:\s*\{[^{}]*"Days"\s*:\s*"?([1-9]|[12][0-9]|30)"?\s*[,}]'))
    OR (new_bucket = 0
        AND regexp_like(rules, '"Expiration"\s*:\s*\{[^{}]*"Days"\s*:\s*"?[1-3]"?\s*[,}]')))
