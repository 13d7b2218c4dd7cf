/*
id: ec2_user_data_modified
title: User data of an existing instance replaced
description: >-
  A principal replaced the user data of an existing instance (ModifyInstanceAttribute userData),
  which is only possible while it is stopped; the usual sequence is stop, modify, start. Scripts
  in user data run as root at the next boot (with a cloud-config that re-runs them), so this is
  code execution on the instance and on its role, without SSH or SSM. Launching an instance with
  user data is not this.
severity: high
attack: [T1059.009, T1578]
techniques: [aws.execution.ec2-user-data]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response:
  action: quarantine_instance
  params: {instance_id: target}
false_positives:
  - An IaC change to user_data applied in place (stop, modify, start) by the deployment role (allowlist it).
runbook: notebooks/compromised_instance.ipynb
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
  element_at(requestParameters, 'instanceId') AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'ec2.amazonaws.com'
  AND eventName = 'ModifyInstanceAttribute'
  AND errorCode IS NULL
  AND userIdentity.invokedBy IS NULL
  AND (element_at(requestParameters, 'userData') IS NOT NULL
       OR element_at(requestParameters, 'attribute') = 'userData')
