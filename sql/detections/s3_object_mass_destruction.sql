/*
id: s3_object_mass_destruction
title: Objects of an S3 bucket destroyed in bulk (ransomware pattern)
description: >-
  Needs S3 data events in the trail. One principal destroyed the content of a bucket in a way
  backups and versioning do not undo, without deleting the bucket afterwards (which would be a
  teardown): ten or more object versions deleted permanently (DeleteObject with a versionId), or
  bulk deletions (DeleteObjects, or ten or more DeleteObject) that were preceded by downloading
  ten or more objects or followed by an upload to the same bucket (a ransom note). This is the
  S3 extortion sequence: copy the data out, delete it, leave a note.
severity: high
attack: [T1485, T1490]
techniques: [aws.impact.s3-ransomware-batch-deletion, aws.impact.s3-ransomware-individual-deletion]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response: null
false_positives:
  - A retention job that permanently purges old object versions (allowlist its role).
  - A sync job that mirrors a source (deletes then uploads) into a bucket it downloaded from.
runbook: notebooks/compromised_credentials.ipynb
*/
WITH ops AS (
  SELECT
    eventID, eventTime, eventName, userIdentity.arn AS arn, userIdentity.type AS utype,
    userIdentity.accessKeyId AS akid, sourceIPAddress, userAgent, recipientAccountId, awsRegion,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    element_at(requestParameters, 'bucketName') AS bucket,
    element_at(requestParameters, 'key') AS object_key,
    element_at(requestParameters, 'versionId') AS version_id
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 's3.amazonaws.com'
    AND eventName IN ('DeleteObject', 'DeleteObjects', 'GetObject', 'PutObject', 'DeleteBucket')
    AND errorCode IS NULL
    AND userIdentity.invokedBy IS NULL
    AND NOT regexp_like(sourceIPAddress, 'amazonaws\.com$')
),
per_bucket AS (
  SELECT
    arn, bucket,
    count_if(eventName = 'DeleteObject' AND version_id IS NOT NULL) AS n_version_deletes,
    count_if(eventName = 'DeleteObject') AS n_object_deletes,
    count_if(eventName = 'DeleteObjects') AS n_batch_deletes,
    min(CASE WHEN eventName IN ('DeleteObject', 'DeleteObjects') THEN eventTime END) AS first_delete,
    max(CASE WHEN eventName = 'PutObject' THEN eventTime END) AS last_upload,
    count_if(eventName = 'DeleteBucket') AS n_bucket_deletes
  FROM ops
  GROUP BY arn, bucket
),
downloads AS (
  SELECT p.arn, p.bucket, count(DISTINCT o.object_key) AS n_downloaded
  FROM per_bucket p
  JOIN ops o ON o.arn = p.arn AND o.bucket = p.bucket
  WHERE o.eventName = 'GetObject' AND o.eventTime <= p.first_delete
  GROUP BY p.arn, p.bucket
),
destroyed AS (
  SELECT p.*, coalesce(d.n_downloaded, 0) AS n_downloaded
  FROM per_bucket p
  LEFT JOIN downloads d ON d.arn = p.arn AND d.bucket = p.bucket
  WHERE ((p.n_batch_deletes > 0 OR p.n_object_deletes >= 10)
         AND (coalesce(d.n_downloaded, 0) >= 10 OR p.last_upload > p.first_delete))
     OR (p.n_version_deletes >= 10 AND p.n_bucket_deletes = 0)
)
SELECT
  array_agg(o.eventID) AS event_ids,
  min(o.eventTime) AS first_seen,
  max(o.eventTime) AS last_seen,
  o.arn AS actor_arn,
  arbitrary(o.utype) AS actor_type,
  max_by(o.akid, o.eventTime) AS access_key_id,
  max_by(o.sourceIPAddress, o.eventTime) AS source_ip,
  max_by(o.userAgent, o.eventTime) AS user_agent,
  arbitrary(o.recipientAccountId) AS account_id,
  arbitrary(o.awsRegion) AS region,
  array_join(array_sort(array_agg(DISTINCT o.eventName)), ',') AS event_name,
  o.bucket AS target,
  arbitrary(o.principal_arn) AS principal_arn,
  o.bucket AS bucket_name,
  arbitrary(d.n_version_deletes) AS n_version_deletes,
  arbitrary(d.n_object_deletes) AS n_object_deletes,
  arbitrary(d.n_batch_deletes) AS n_batch_deletes,
  arbitrary(d.n_downloaded) AS n_downloaded
FROM ops o
JOIN destroyed d ON d.arn = o.arn AND d.bucket = o.bucket
WHERE o.eventName IN ('DeleteObject', 'DeleteObjects')
   OR (o.eventName = 'PutObject' AND o.eventTime > d.first_delete)
   OR (o.eventName = 'GetObject' AND o.eventTime <= d.first_delete)
GROUP BY o.arn, o.bucket
