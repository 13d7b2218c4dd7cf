/*
id: vpc_flow_logs_deleted
title: VPC flow logs deleted
description: >-
  A principal deleted VPC flow logs. Flow logs are the network record of an incident (who talked
  to which instance, how much left the VPC); deleting them hides lateral movement and exfiltration.
severity: high
attack: [T1562.008]
techniques: [aws.defense-evasion.vpc-remove-flow-logs]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response: null
false_positives:
  - Network teardown by an IaC role, e.g. when a VPC is destroyed (allowlist the role).
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
  coalesce(
    json_extract_scalar(element_at(requestParameters, 'DeleteFlowLogsRequest'), '$.FlowLogId.content'),
    json_extract_scalar(element_at(requestParameters, 'DeleteFlowLogsRequest'), '$.FlowLogId[0].content')) AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  element_at(requestParameters, 'DeleteFlowLogsRequest') AS details
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'ec2.amazonaws.com'
  AND eventName = 'DeleteFlowLogs'
  AND errorCode IS NULL
