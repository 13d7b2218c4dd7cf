/*
id: ec2_serial_console_access
title: EC2 serial console access enabled or used to push an SSH key
description: >-
  A principal enabled EC2 serial console access for the account (an account-wide setting that
  is off by default), or pushed an SSH public key for an instance's serial console. The serial
  console gives a root shell that bypasses security groups, network ACLs and sshd
  configuration; it is break-glass access that is almost never used day to day.
severity: high
attack: [T1021.008, T1098.004]
techniques: [aws.lateral-movement.ec2-serial-console-send-ssh-public-key]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, region]
threshold: null
response: null
false_positives:
  - A documented break-glass recovery of an unreachable instance (allowlist the break-glass role).
runbook: notebooks/compromised_credentials.ipynb
*/
WITH calls AS (
  SELECT eventID, eventTime, eventName, userIdentity, sourceIPAddress, userAgent, recipientAccountId, awsRegion,
         CAST(NULL AS varchar) AS instance_id
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'ec2.amazonaws.com'
    AND eventName = 'EnableSerialConsoleAccess'
    AND errorCode IS NULL
    AND userIdentity.invokedBy IS NULL
  UNION ALL
  SELECT eventID, eventTime, eventName, userIdentity, sourceIPAddress, userAgent, recipientAccountId, awsRegion,
         element_at(requestParameters, 'instanceId') AS instance_id
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'ec2-instance-connect.amazonaws.com'
    AND eventName = 'SendSerialConsoleSSHPublicKey'
    AND errorCode IS NULL
    AND userIdentity.invokedBy IS NULL
)
SELECT
  array_agg(eventID) AS event_ids,
  min(eventTime) AS first_seen,
  max(eventTime) AS last_seen,
  userIdentity.arn AS actor_arn,
  arbitrary(userIdentity.type) AS actor_type,
  max_by(userIdentity.accessKeyId, eventTime) AS access_key_id,
  max_by(sourceIPAddress, eventTime) AS source_ip,
  max_by(userAgent, eventTime) AS user_agent,
  recipientAccountId AS account_id,
  awsRegion AS region,
  array_join(array_sort(array_agg(DISTINCT eventName)), ',') AS event_name,
  coalesce(array_join(array_sort(array_agg(DISTINCT instance_id)), ','), 'serial-console-access') AS target,
  arbitrary(coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn)) AS principal_arn,
  count(*) AS n_events
FROM calls
GROUP BY userIdentity.arn, recipientAccountId, awsRegion
