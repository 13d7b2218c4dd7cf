/*
id: ec2_user_data_download_burst
title: User data of many instances downloaded
description: >-
  One principal read the userData attribute (DescribeInstanceAttribute) of many distinct
  instances in the window, successfully or not. User data often carries bootstrap secrets
  (passwords, tokens, keys); an operator looks at one instance's script, an intruder sweeps them
  all. Instances that the same principal launched in the window are not counted, so an IaC run
  reading back what it created stays quiet.
severity: medium
attack: [T1552.005, T1580]
techniques: [aws.discovery.ec2-download-user-data]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, region]
threshold: {column: n_instances, min: 5}
response: null
false_positives:
  - An IaC refresh over many instances created before this window (allowlist the IaC role, or raise the threshold).
runbook: notebooks/compromised_credentials.ipynb
*/
WITH reads AS (
  SELECT
    eventID, eventTime, userIdentity.arn AS arn, userIdentity.type AS utype, userIdentity.accessKeyId AS akid,
    sourceIPAddress, userAgent, recipientAccountId, awsRegion, errorCode,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    element_at(requestParameters, 'instanceId') AS instance_id
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'ec2.amazonaws.com'
    AND eventName = 'DescribeInstanceAttribute'
    AND element_at(requestParameters, 'attribute') = 'userData'
    AND userIdentity.invokedBy IS NULL
),
launched AS (
  SELECT
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    element_at(responseElements, 'instancesSet') AS instances
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'ec2.amazonaws.com'
    AND eventName = 'RunInstances'
    AND errorCode IS NULL
),
foreign_reads AS (
  SELECT r.*
  FROM reads r
  LEFT JOIN launched l ON l.principal_arn = r.principal_arn AND strpos(l.instances, r.instance_id) > 0
  WHERE l.principal_arn IS NULL
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
  'DescribeInstanceAttribute' AS event_name,
  array_join(array_sort(array_agg(DISTINCT instance_id)), ',') AS target,
  arbitrary(principal_arn) AS principal_arn,
  count(DISTINCT instance_id) AS n_instances,
  count(*) AS n_events,
  count_if(errorCode IS NOT NULL) AS n_errors
FROM foreign_reads
GROUP BY arn, recipientAccountId, awsRegion
HAVING count(DISTINCT instance_id) >= $THRESHOLD
