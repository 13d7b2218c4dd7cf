/*
id: cloudtrail_logging_stopped
title: CloudTrail logging stopped on a trail
description: >-
  A principal successfully called StopLogging on a trail: the classic first move of an attacker
  who wants to act unseen. The trail still exists, so logging can be restarted at once.
severity: high
attack: [T1562.008]
techniques: [aws.defense-evasion.cloudtrail-stop]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response:
  action: restore_cloudtrail_logging
  params: {trail: target}
false_positives:
  - Planned trail maintenance or migration by the platform team (allowlist their role in trailhound.yaml).
runbook: notebooks/tampering_and_exposure.ipynb
*/
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
  element_at(requestParameters, 'name') AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'cloudtrail.amazonaws.com'
  AND eventName = 'StopLogging'
  AND errorCode IS NULL
