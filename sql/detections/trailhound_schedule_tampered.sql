/*
id: trailhound_schedule_tampered
title: TrailHound's detection schedule disabled or changed
description: >-
  An EventBridge rule or schedule whose name starts with "trailhound" was disabled, deleted,
  re-pointed (targets removed or replaced) or switched off. Detection silently stops: the first
  thing an attacker who knows the responder is there would do. Changes made through
  CloudFormation (the CDK deployment) are left out.
severity: high
attack: [T1562.001]
techniques: []
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target, event_name]
threshold: null
response: null
false_positives:
  - A manual pause during an incident or maintenance (announce it; allowlist the operator for that window).
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
  coalesce(element_at(requestParameters, 'name'), element_at(requestParameters, 'rule')) AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  coalesce(element_at(requestParameters, 'state'), element_at(requestParameters, 'targets'), element_at(requestParameters, 'ids')) AS details
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource IN ('events.amazonaws.com', 'scheduler.amazonaws.com')
  AND eventName IN ('DisableRule', 'DeleteRule', 'RemoveTargets', 'PutTargets', 'PutRule', 'DeleteSchedule', 'UpdateSchedule')
  AND errorCode IS NULL
  AND userIdentity.invokedBy IS NULL
  AND regexp_like(lower(coalesce(element_at(requestParameters, 'name'), element_at(requestParameters, 'rule'), '')), '(^|[:/])trailhound')
  AND (
    (eventSource = 'events.amazonaws.com'
     AND (eventName IN ('DisableRule', 'DeleteRule', 'RemoveTargets', 'PutTargets')
          OR (eventName = 'PutRule' AND upper(element_at(requestParameters, 'state')) LIKE 'DISABLED%')))
    OR (eventSource = 'scheduler.amazonaws.com'
        AND (eventName = 'DeleteSchedule'
             OR (eventName = 'UpdateSchedule' AND upper(element_at(requestParameters, 'state')) = 'DISABLED')))
  )
