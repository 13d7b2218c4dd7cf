/*
id: organizations_leave_attempt
title: Account tried to leave its AWS Organization
description: >-
  LeaveOrganization was called, whether or not it succeeded. An account that leaves its
  organization escapes the service control policies, the organization trail and the delegated
  security services; even a denied attempt shows intent and is reported.
severity: high
attack: [T1562, T1666]
techniques: [aws.defense-evasion.organizations-leave]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, account_id]
threshold: null
response: null
false_positives:
  - A planned account migration between organizations (rare, announced in advance).
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
  recipientAccountId AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  coalesce(errorCode, 'Success') AS outcome
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'organizations.amazonaws.com'
  AND eventName = 'LeaveOrganization'
