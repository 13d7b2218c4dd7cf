/*
id: config_recorder_stopped
title: AWS Config recording stopped or removed
description: >-
  The AWS Config recorder was stopped or deleted, or its delivery channel deleted. Configuration
  history (who opened which security group, when a bucket became public) stops being recorded.
severity: high
attack: [T1562.001]
techniques: []
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response: null
false_positives:
  - Re-creating the recorder during a Config migration by the platform role (allowlist it).
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
  coalesce(element_at(requestParameters, 'configurationRecorderName'), element_at(requestParameters, 'deliveryChannelName')) AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'config.amazonaws.com'
  AND errorCode IS NULL
  AND eventName IN ('StopConfigurationRecorder', 'DeleteConfigurationRecorder', 'DeleteDeliveryChannel')
