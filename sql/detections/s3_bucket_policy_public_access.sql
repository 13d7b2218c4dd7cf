/*
id: s3_bucket_policy_public_access
title: S3 bucket policy grants access to everyone
description: >-
  A bucket policy was set with an Allow statement whose principal is "*" (anyone, including
  anonymous users) and no condition narrowing it (source VPC endpoint, organisation, IP range).
  The bucket's data becomes readable (or writable) from the internet unless Block Public Access
  stops it. Deny statements with "*" (the usual TLS-only guard) are not grants and are ignored.
severity: high
attack: [T1530, T1537]
techniques: [aws.exfiltration.s3-backdoor-bucket-policy]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response:
  action: block_public_bucket
  params: {bucket: bucket_name}
false_positives:
  - Buckets that serve public static content on purpose (allowlist their IaC role; better, serve through CloudFront with OAC).
runbook: notebooks/tampering_and_exposure.ipynb
*/
WITH calls AS (
  SELECT
    eventID, eventTime, eventName, userIdentity.arn AS arn, userIdentity.type AS utype,
    userIdentity.accessKeyId AS akid, sourceIPAddress, userAgent, recipientAccountId, awsRegion,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    element_at(requestParameters, 'bucketName') AS bucket,
    element_at(requestParameters, 'bucketPolicy') AS policy
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 's3.amazonaws.com'
    AND eventName = 'PutBucketPolicy'
    AND errorCode IS NULL
    AND element_at(requestParameters, 'bucketPolicy') IS NOT NULL
),
statements AS (
  SELECT eventID,
    json_extract_scalar(policy, '$.Statement.Effect') AS effect,
    coalesce(json_extract_scalar(policy, '$.Statement.Principal'), '') AS principal,
    concat(coalesce(json_extract_scalar(policy, '$.Statement.Principal.AWS'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement.Principal.AWS[0]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement.Principal.AWS[1]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement.Principal.AWS[2]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement.Principal.AWS[3]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement.Principal.AWS[4]'), '')) AS aws_principals,
    json_extract(policy, '$.Statement.Condition') IS NOT NULL AS has_condition
  FROM calls WHERE json_extract_scalar(policy, '$.Statement.Effect') IS NOT NULL
  UNION ALL
  SELECT eventID,
    json_extract_scalar(policy, '$.Statement[0].Effect') AS effect,
    coalesce(json_extract_scalar(policy, '$.Statement[0].Principal'), '') AS principal,
    concat(coalesce(json_extract_scalar(policy, '$.Statement[0].Principal.AWS'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[0].Principal.AWS[0]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[0].Principal.AWS[1]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[0].Principal.AWS[2]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[0].Principal.AWS[3]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[0].Principal.AWS[4]'), '')) AS aws_principals,
    json_extract(policy, '$.Statement[0].Condition') IS NOT NULL AS has_condition
  FROM calls WHERE json_extract_scalar(policy, '$.Statement[0].Effect') IS NOT NULL
  UNION ALL
  SELECT eventID,
    json_extract_scalar(policy, '$.Statement[1].Effect') AS effect,
    coalesce(json_extract_scalar(policy, '$.Statement[1].Principal'), '') AS principal,
    concat(coalesce(json_extract_scalar(policy, '$.Statement[1].Principal.AWS'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[1].Principal.AWS[0]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[1].Principal.AWS[1]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[1].Principal.AWS[2]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[1].Principal.AWS[3]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[1].Principal.AWS[4]'), '')) AS aws_principals,
    json_extract(policy, '$.Statement[1].Condition') IS NOT NULL AS has_condition
  FROM calls WHERE json_extract_scalar(policy, '$.Statement[1].Effect') IS NOT NULL
  UNION ALL
  SELECT eventID,
    json_extract_scalar(policy, '$.Statement[2].Effect') AS effect,
    coalesce(json_extract_scalar(policy, '$.Statement[2].Principal'), '') AS principal,
    concat(coalesce(json_extract_scalar(policy, '$.Statement[2].Principal.AWS'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[2].Principal.AWS[0]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[2].Principal.AWS[1]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[2].Principal.AWS[2]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[2].Principal.AWS[3]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[2].Principal.AWS[4]'), '')) AS aws_principals,
    json_extract(policy, '$.Statement[2].Condition') IS NOT NULL AS has_condition
  FROM calls WHERE json_extract_scalar(policy, '$.Statement[2].Effect') IS NOT NULL
  UNION ALL
  SELECT eventID,
    json_extract_scalar(policy, '$.Statement[3].Effect') AS effect,
    coalesce(json_extract_scalar(policy, '$.Statement[3].Principal'), '') AS principal,
    concat(coalesce(json_extract_scalar(policy, '$.Statement[3].Principal.AWS'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[3].Principal.AWS[0]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[3].Principal.AWS[1]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[3].Principal.AWS[2]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[3].Principal.AWS[3]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[3].Principal.AWS[4]'), '')) AS aws_principals,
    json_extract(policy, '$.Statement[3].Condition') IS NOT NULL AS has_condition
  FROM calls WHERE json_extract_scalar(policy, '$.Statement[3].Effect') IS NOT NULL
  UNION ALL
  SELECT eventID,
    json_extract_scalar(policy, '$.Statement[4].Effect') AS effect,
    coalesce(json_extract_scalar(policy, '$.Statement[4].Principal'), '') AS principal,
    concat(coalesce(json_extract_scalar(policy, '$.Statement[4].Principal.AWS'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[4].Principal.AWS[0]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[4].Principal.AWS[1]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[4].Principal.AWS[2]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[4].Principal.AWS[3]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[4].Principal.AWS[4]'), '')) AS aws_principals,
    json_extract(policy, '$.Statement[4].Condition') IS NOT NULL AS has_condition
  FROM calls WHERE json_extract_scalar(policy, '$.Statement[4].Effect') IS NOT NULL
  UNION ALL
  SELECT eventID,
    json_extract_scalar(policy, '$.Statement[5].Effect') AS effect,
    coalesce(json_extract_scalar(policy, '$.Statement[5].Principal'), '') AS principal,
    concat(coalesce(json_extract_scalar(policy, '$.Statement[5].Principal.AWS'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[5].Principal.AWS[0]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[5].Principal.AWS[1]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[5].Principal.AWS[2]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[5].Principal.AWS[3]'), ''), ' ', coalesce(json_extract_scalar(policy, '$.Statement[5].Principal.AWS[4]'), '')) AS aws_principals,
    json_extract(policy, '$.Statement[5].Condition') IS NOT NULL AS has_condition
  FROM calls WHERE json_extract_scalar(policy, '$.Statement[5].Effect') IS NOT NULL
),
grants AS (
  SELECT
    s.eventID,
    count_if(s.effect = 'Allow' AND NOT s.has_condition
             AND (s.principal = '*' OR regexp_like(s.aws_principals, '(^| )\*( |$)'))) AS n_public,
    count_if(s.effect = 'Allow'
             AND regexp_like(replace(s.aws_principals, c.recipientAccountId, ''), '[0-9]{12}')) AS n_external,
    array_join(array_sort(array_agg(DISTINCT CASE WHEN s.effect = 'Allow' THEN trim(regexp_replace(
      replace(s.aws_principals, c.recipientAccountId, 'own-account'), ' +', ' ')) END)), ' ') AS granted_to
  FROM statements s
  JOIN calls c ON c.eventID = s.eventID
  GROUP BY s.eventID
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
  c.bucket AS target,
  c.principal_arn AS principal_arn,
  c.bucket AS bucket_name,
  g.granted_to AS details
FROM calls c
JOIN grants g ON g.eventID = c.eventID
WHERE g.n_public > 0
