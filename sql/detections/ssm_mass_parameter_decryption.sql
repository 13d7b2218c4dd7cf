/*
id: ssm_mass_parameter_decryption
title: Many SecureString parameters decrypted by one principal
description: >-
  One principal read and decrypted (withDecryption=true) many distinct SSM parameters in the
  window, through GetParameter, GetParameters or GetParametersByPath. Applications read the same
  handful of parameters at start-up; decrypting most of Parameter Store is credential
  harvesting. A parameter read within ten minutes after the same principal wrote it
  (PutParameter) is not counted, so an IaC run that creates parameters and reads them back stays
  quiet, while a sweep by the same credentials later on is still counted.
severity: high
attack: [T1555.006]
techniques: [aws.credential-access.ssm-retrieve-securestring-parameters]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, region]
threshold: {column: n_parameters, min: 15}
response: null
false_positives:
  - A configuration service that loads a large parameter tree at start-up (allowlist its role or raise the threshold).
  - An IaC refresh over many parameters it did not write in this window.
runbook: notebooks/compromised_credentials.ipynb
*/
WITH reads AS (
  SELECT
    eventID, eventTime, eventName, userIdentity.arn AS arn, userIdentity.type AS utype,
    userIdentity.accessKeyId AS akid, sourceIPAddress, userAgent, recipientAccountId, awsRegion, errorCode,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    CASE eventName
      WHEN 'GetParameters' THEN element_at(requestParameters, 'names')
      WHEN 'GetParametersByPath' THEN concat('path:', element_at(requestParameters, 'path'))
      ELSE element_at(requestParameters, 'name')
    END AS requested,
    CASE eventName
      WHEN 'GetParameters' THEN cardinality(split(element_at(requestParameters, 'names'), ','))
      ELSE 1
    END AS n_requested
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'ssm.amazonaws.com'
    AND eventName IN ('GetParameter', 'GetParameters', 'GetParametersByPath', 'GetParameterHistory')
    AND element_at(requestParameters, 'withDecryption') = 'true'
    AND userIdentity.invokedBy IS NULL
    AND NOT regexp_like(sourceIPAddress, 'amazonaws\.com$')
),
written AS (
  SELECT
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    element_at(requestParameters, 'name') AS requested,
    eventTime AS written_at
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'ssm.amazonaws.com'
    AND eventName = 'PutParameter'
    AND errorCode IS NULL
),
foreign_reads AS (
  SELECT r.*
  FROM reads r
  LEFT JOIN written w
    ON w.principal_arn = r.principal_arn AND w.requested = r.requested
   AND r.eventTime >= w.written_at AND r.eventTime <= date_add('minute', 10, w.written_at)
  WHERE w.requested IS NULL
),
breadth AS (
  SELECT arn, recipientAccountId, awsRegion, sum(n) AS n_parameters
  FROM (
    SELECT arn, recipientAccountId, awsRegion, requested, max(n_requested) AS n
    FROM foreign_reads
    GROUP BY arn, recipientAccountId, awsRegion, requested
  ) AS distinct_requests
  GROUP BY arn, recipientAccountId, awsRegion
)
SELECT
  array_agg(r.eventID) AS event_ids,
  min(r.eventTime) AS first_seen,
  max(r.eventTime) AS last_seen,
  r.arn AS actor_arn,
  arbitrary(r.utype) AS actor_type,
  max_by(r.akid, r.eventTime) AS access_key_id,
  max_by(r.sourceIPAddress, r.eventTime) AS source_ip,
  max_by(r.userAgent, r.eventTime) AS user_agent,
  r.recipientAccountId AS account_id,
  r.awsRegion AS region,
  array_join(array_sort(array_agg(DISTINCT r.eventName)), ',') AS event_name,
  array_join(array_sort(array_agg(DISTINCT r.requested)), ',') AS target,
  arbitrary(r.principal_arn) AS principal_arn,
  arbitrary(b.n_parameters) AS n_parameters,
  count(*) AS n_events,
  count_if(r.errorCode IS NOT NULL) AS n_errors
FROM foreign_reads r
JOIN breadth b ON b.arn = r.arn AND b.recipientAccountId = r.recipientAccountId AND b.awsRegion = r.awsRegion
GROUP BY r.arn, r.recipientAccountId, r.awsRegion
HAVING arbitrary(b.n_parameters) >= $THRESHOLD
