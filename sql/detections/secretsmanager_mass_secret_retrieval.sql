/*
id: secretsmanager_mass_secret_retrieval
title: Many distinct secrets read by one principal
description: >-
  One principal read the values of many distinct Secrets Manager secrets (GetSecretValue) in the
  window. Applications read the same few secrets again and again; reading most of the store is
  credential harvesting. An IaC run that writes secrets reads each one back pinned to the version
  it just wrote; such version-pinned reads of secrets the same principal created or wrote in the
  window are not counted (reads of the current value are, even by the principal that created
  the secrets, since set-up and theft often share credentials).
severity: high
attack: [T1555.006]
techniques: [aws.credential-access.secretsmanager-retrieve-secrets]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, region]
threshold: {column: n_secrets, min: 10}
response: null
false_positives:
  - A backup or secrets-migration job that copies every secret (allowlist its role).
  - An IaC refresh (terraform plan) over many secrets it did not write in this window.
runbook: notebooks/compromised_credentials.ipynb
*/
WITH reads AS (
  SELECT
    eventID, eventTime, userIdentity.arn AS arn, userIdentity.type AS utype,
    userIdentity.accessKeyId AS akid, sourceIPAddress, userAgent, recipientAccountId, awsRegion, errorCode,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    element_at(requestParameters, 'versionId') AS version_id,
    coalesce(nullif(regexp_extract(element_at(requestParameters, 'secretId'),
                                   ':secret:(.+)-[A-Za-z0-9]{6}$', 1), ''),
             element_at(requestParameters, 'secretId')) AS secret
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'secretsmanager.amazonaws.com'
    AND eventName = 'GetSecretValue'
    AND userIdentity.invokedBy IS NULL
    AND NOT regexp_like(sourceIPAddress, 'amazonaws\.com$')
),
written AS (
  SELECT DISTINCT
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    coalesce(element_at(requestParameters, 'name'),
             nullif(regexp_extract(element_at(requestParameters, 'secretId'),
                                   ':secret:(.+)-[A-Za-z0-9]{6}$', 1), ''),
             element_at(requestParameters, 'secretId')) AS secret
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'secretsmanager.amazonaws.com'
    AND eventName IN ('CreateSecret', 'PutSecretValue', 'UpdateSecret')
    AND errorCode IS NULL
),
foreign_reads AS (
  SELECT r.*
  FROM reads r
  LEFT JOIN written w ON w.principal_arn = r.principal_arn AND w.secret = r.secret
  WHERE w.secret IS NULL OR r.version_id IS NULL
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
  'GetSecretValue' AS event_name,
  array_join(array_sort(array_agg(DISTINCT secret)), ',') AS target,
  arbitrary(principal_arn) AS principal_arn,
  count(DISTINCT secret) AS n_secrets,
  count(*) AS n_events,
  count_if(errorCode IS NOT NULL) AS n_errors
FROM foreign_reads
GROUP BY arn, recipientAccountId, awsRegion
HAVING count(DISTINCT secret) >= $THRESHOLD
