/*
id: guardduty_detector_disabled
title: GuardDuty detector deleted, suspended or detached
description: >-
  A GuardDuty detector was deleted or suspended (UpdateDetector with enable=false), or the
  account left its GuardDuty administrator, or an administrator stopped monitoring members.
  Threat detection stops for the account (or its members) from that moment.
severity: high
attack: [T1562.001]
techniques: []
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response: null
false_positives:
  - Moving GuardDuty to a delegated administrator account (planned; allowlist the migration role).
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
  element_at(requestParameters, 'detectorId') AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'guardduty.amazonaws.com'
  AND eventName IN ('DeleteDetector', 'DisassociateFromMasterAccount', 'DisassociateFromAdministratorAccount',
                    'StopMonitoringMembers', 'DisassociateMembers', 'DeleteMembers', 'UpdateDetector')
  AND errorCode IS NULL
  AND (
    eventName IN ('DeleteDetector', 'DisassociateFromMasterAccount', 'DisassociateFromAdministratorAccount',
                  'StopMonitoringMembers', 'DisassociateMembers', 'DeleteMembers')
    OR (eventName = 'UpdateDetector' AND lower(element_at(requestParameters, 'enable')) = 'false')
  )
