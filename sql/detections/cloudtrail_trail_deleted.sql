/*
id: cloudtrail_trail_deleted
title: CloudTrail trail deleted
description: >-
  A principal successfully deleted a CloudTrail trail. Everything the account does from now on
  goes unrecorded by that trail, and its configuration must be rebuilt by hand.
severity: high
attack: [T1562.008]
techniques: [aws.defense-evasion.cloudtrail-delete]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response: null
false_positives:
  - Decommissioning a trail after moving to an organization trail (allowlist the platform role).
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
  AND eventName = 'DeleteTrail'
  AND errorCode IS NULL
