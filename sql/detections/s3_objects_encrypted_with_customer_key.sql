/*
id: s3_objects_encrypted_with_customer_key
title: S3 objects rewritten with a customer-provided encryption key (ransomware pattern)
description: >-
  Needs S3 data events in the trail. One principal wrote or copied many distinct objects of a
  bucket with SSE-C, encryption under a key that the caller supplies and AWS does not keep.
  Overwriting existing objects this way makes them unreadable to anyone without the attacker's
  key: the S3 ransomware technique that needs no KMS access. Workloads that use SSE-C write new
  objects with it steadily; rewriting a bucket's content in a burst is the signal.
severity: high
attack: [T1486]
techniques: [aws.impact.s3-ransomware-client-side-encryption]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: {column: n_objects, min: 5}
response: null
false_positives:
  - An application that stores every object with SSE-C (allowlist its role; AWS now recommends blocking SSE-C on buckets that do not need it).
runbook: notebooks/compromised_credentials.ipynb
*/
WITH writes AS (
  SELECT
    eventID, eventTime, eventName, sourceIPAddress, userAgent, recipientAccountId, awsRegion,
    userIdentity.arn AS arn, userIdentity.type AS utype, userIdentity.accessKeyId AS akid,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    element_at(requestParameters, 'bucketName') AS bucket,
    element_at(requestParameters, 'key') AS object_key
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 's3.amazonaws.com'
    AND eventName IN ('PutObject', 'CopyObject', 'CreateMultipartUpload')
    AND errorCode IS NULL
    AND userIdentity.invokedBy IS NULL
    AND element_at(requestParameters, 'x-amz-server-side-encryption-customer-algorithm') IS NOT NULL
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
  recipientAccountId AS account_id,
  awsRegion AS region,
  array_join(array_sort(array_agg(DISTINCT eventName)), ',') AS event_name,
  bucket AS target,
  arbitrary(principal_arn) AS principal_arn,
  bucket AS bucket_name,
  count(DISTINCT object_key) AS n_objects,
  count_if(eventName = 'CopyObject') AS n_copies_in_place
FROM writes
GROUP BY arn, recipientAccountId, awsRegion, bucket
HAVING count(DISTINCT object_key) >= $THRESHOLD
