/*
id: securityhub_disabled
title: Security Hub disabled, standards turned off or account detached
description: >-
  Security Hub was disabled, security standards were disabled in bulk, or the account left its
  Security Hub administrator. Aggregated findings and compliance checks stop.
severity: high
attack: [T1562.001]
techniques: []
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, event_name]
threshold: null
response: null
false_positives:
  - Consolidation onto a delegated administrator or a change of enabled standards (planned).
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
  coalesce(element_at(requestParameters, 'StandardsSubscriptionArns'), element_at(requestParameters, 'standardsSubscriptionArns')) AS details
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'securityhub.amazonaws.com'
  AND errorCode IS NULL
  AND eventName IN ('DisableSecurityHub', 'BatchDisableStandards', 'DisassociateFromMasterAccount',
                    'DisassociateFromAdministratorAccount')
