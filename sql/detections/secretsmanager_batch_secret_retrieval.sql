/*
id: secretsmanager_batch_secret_retrieval
title: Secrets retrieved in bulk with BatchGetSecretValue
description: >-
  A principal retrieved secret values in bulk: BatchGetSecretValue selecting secrets by a filter
  (every secret that matches, typically all of them), or naming ten or more secrets in one call.
  Applications that use the batch API name the few secrets they need; sweeping by filter is how
  stolen credentials empty a secrets store in a handful of calls.
severity: high
attack: [T1555.006]
techniques: [aws.credential-access.secretsmanager-batch-retrieve-secrets]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, region]
threshold: null
response: null
false_positives:
  - A secrets synchronisation tool (e.g. External Secrets with a tag filter); allowlist its role.
runbook: notebooks/compromised_credentials.ipynb
*/
SELECT
  array_agg(eventID) AS event_ids,
  min(eventTime) AS first_seen,
  max(eventTime) AS last_seen,
  userIdentity.arn AS actor_arn,
  arbitrary(userIdentity.type) AS actor_type,
  max_by(userIdentity.accessKeyId, eventTime) AS access_key_id,
  max_by(sourceIPAddress, eventTime) AS source_ip,
  max_by(userAgent, eventTime) AS user_agent,
  recipientAccountId AS account_id,
  awsRegion AS region,
  'BatchGetSecretValue' AS event_name,
  coalesce(max(element_at(requestParameters, 'filters')), max(element_at(requestParameters, 'secretIdList'))) AS target,
  arbitrary(coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn)) AS principal_arn,
  count(*) AS n_events,
  count_if(element_at(requestParameters, 'filters') IS NOT NULL) AS n_filter_calls
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'secretsmanager.amazonaws.com'
  AND eventName = 'BatchGetSecretValue'
  AND errorCode IS NULL
  AND userIdentity.invokedBy IS NULL
  AND (element_at(requestParameters, 'filters') IS NOT NULL
       OR cardinality(split(element_at(requestParameters, 'secretIdList'), ',')) >= 10)
GROUP BY userIdentity.arn, recipientAccountId, awsRegion
