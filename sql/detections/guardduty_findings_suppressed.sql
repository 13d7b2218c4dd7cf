/*
id: guardduty_findings_suppressed
title: GuardDuty findings suppressed (archive filter or trusted IP list)
description: >-
  A GuardDuty filter that auto-archives findings was created or changed, or a trusted IP list
  was added or changed. Both silence GuardDuty without disabling it: archived findings never
  reach the console or EventBridge consumers, and traffic from trusted IPs raises nothing.
severity: medium
attack: [T1562.001]
techniques: []
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response: null
false_positives:
  - Security team tuning known-benign findings (allowlist their role; review the filter criteria).
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
  coalesce(element_at(requestParameters, 'filterName'), element_at(requestParameters, 'name'), element_at(requestParameters, 'ipSetId')) AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  coalesce(element_at(requestParameters, 'findingCriteria'), element_at(requestParameters, 'location')) AS details
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'guardduty.amazonaws.com'
  AND eventName IN ('CreateFilter', 'UpdateFilter', 'CreateIPSet', 'UpdateIPSet')
  AND errorCode IS NULL
  AND (
    (eventName IN ('CreateFilter', 'UpdateFilter') AND upper(element_at(requestParameters, 'action')) = 'ARCHIVE')
    OR eventName IN ('CreateIPSet', 'UpdateIPSet')
  )
