/*
id: ec2_instance_connect_multiple_instances
title: SSH keys pushed to many instances with EC2 Instance Connect
description: >-
  One principal pushed temporary SSH public keys (ec2-instance-connect:SendSSHPublicKey) to
  several distinct instances in the window, from outside the console. Each push opens a
  60-second window to log in over SSH as the given OS user; doing it across many hosts is lateral
  movement with stolen cloud credentials.
severity: medium
attack: [T1021.004, T1098.004]
techniques: [aws.lateral-movement.ec2-instance-connect]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, region]
threshold: {column: n_instances, min: 3}
response: null
false_positives:
  - An engineer using EC2 Instance Connect from the CLI on several hosts during maintenance (allowlist or raise the threshold).
runbook: notebooks/compromised_credentials.ipynb
*/
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
  'SendSSHPublicKey' AS event_name,
  array_join(array_sort(array_agg(DISTINCT element_at(requestParameters, 'instanceId'))), ',') AS target,
  arbitrary(coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn)) AS principal_arn,
  array_join(array_sort(array_agg(DISTINCT element_at(requestParameters, 'instanceOSUser'))), ',') AS os_users,
  count(DISTINCT element_at(requestParameters, 'instanceId')) AS n_instances,
  count(*) AS n_events
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'ec2-instance-connect.amazonaws.com'
  AND eventName = 'SendSSHPublicKey'
  AND errorCode IS NULL
  AND userIdentity.invokedBy IS NULL
  AND coalesce(sessionCredentialFromConsole, 'false') <> 'true'
GROUP BY userIdentity.arn, recipientAccountId, awsRegion
HAVING count(DISTINCT element_at(requestParameters, 'instanceId')) >= $THRESHOLD
