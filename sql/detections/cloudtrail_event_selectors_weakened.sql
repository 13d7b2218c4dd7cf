/*
id: cloudtrail_event_selectors_weakened
title: CloudTrail event selectors stop recording management events
description: >-
  PutEventSelectors left a trail without a selector that records all management events: either
  no selector includes management events, or the only ones that do record just reads (or just
  writes), or advanced selectors no longer select the Management category. The trail keeps
  "logging" while the calls an attacker makes are no longer written.
severity: high
attack: [T1562.008]
techniques: [aws.defense-evasion.cloudtrail-event-selectors]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response:
  action: restore_cloudtrail_logging
  params: {trail: target}
false_positives:
  - A deliberate move of management events to an organization trail, with this trail kept for data events only.
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
  element_at(requestParameters, 'trailName') AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  coalesce(element_at(requestParameters, 'eventSelectors'), element_at(requestParameters, 'advancedEventSelectors')) AS details
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'cloudtrail.amazonaws.com'
  AND eventName = 'PutEventSelectors'
  AND errorCode IS NULL
  AND (
    (element_at(requestParameters, 'eventSelectors') IS NOT NULL
     AND NOT (regexp_like(element_at(requestParameters, 'eventSelectors'), '"includeManagementEvents"\s*:\s*true')
              AND regexp_like(element_at(requestParameters, 'eventSelectors'), '"readWriteType"\s*:\s*"All"')))
    OR
    (element_at(requestParameters, 'advancedEventSelectors') IS NOT NULL
     AND NOT regexp_like(element_at(requestParameters, 'advancedEventSelectors'), '"Management"'))
  )
