/*
id: kms_key_disabled_or_scheduled_for_deletion
title: KMS key disabled or scheduled for deletion
description: >-
  A customer managed KMS key was disabled or scheduled for deletion. Everything encrypted under
  it (volumes, buckets, secrets, backups) becomes unreadable, for good once the waiting period
  ends: sabotage or ransom. The deletion can be cancelled until then.
severity: medium
attack: [T1485, T1486]
techniques: []
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response: null
false_positives:
  - Key retirement by the platform team's IaC (allowlist its role); CloudFormation stack deletions are left out.
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
  element_at(requestParameters, 'keyId') AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  element_at(requestParameters, 'pendingWindowInDays') AS pending_window_days
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'kms.amazonaws.com'
  AND eventName IN ('ScheduleKeyDeletion', 'DisableKey')
  AND errorCode IS NULL
  AND userIdentity.invokedBy IS NULL
