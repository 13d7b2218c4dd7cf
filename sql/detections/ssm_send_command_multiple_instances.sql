/*
id: ssm_send_command_multiple_instances
title: Shell commands sent to many instances through SSM
description: >-
  One principal used ssm:SendCommand with a shell-script document (RunShellScript,
  RunPowerShellScript, RunRemoteScript) against several distinct instances in the window. Run
  Command executes as root/SYSTEM on every target, so a stolen key with ssm:SendCommand is code
  execution across the fleet. Commands issued by AWS services (State Manager, Maintenance Windows,
  Automation) and patching or agent-maintenance documents are not counted.
severity: medium
attack: [T1651]
techniques: [aws.execution.ssm-send-command]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, region]
threshold: {column: n_instances, min: 3}
response: null
false_positives:
  - An operator running an ad-hoc shell command across a fleet by instance id (allowlist the ops role or raise the threshold).
runbook: notebooks/compromised_instance.ipynb
*/
WITH sends AS (
  SELECT
    eventID, eventTime, userIdentity.arn AS arn, userIdentity.type AS utype, userIdentity.accessKeyId AS akid,
    sourceIPAddress, userAgent, recipientAccountId, awsRegion,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    element_at(requestParameters, 'documentName') AS document,
    element_at(requestParameters, 'instanceIds') AS instance_ids,
    cardinality(split(element_at(requestParameters, 'instanceIds'), ',')) AS n_ids
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'ssm.amazonaws.com'
    AND eventName = 'SendCommand'
    AND errorCode IS NULL
    AND userIdentity.invokedBy IS NULL
    AND NOT regexp_like(sourceIPAddress, 'amazonaws\.com$')
    AND regexp_like(element_at(requestParameters, 'documentName'),
                    '(^|/)AWS-(RunShellScript|RunPowerShellScript|RunRemoteScript)$')
    AND regexp_like(element_at(requestParameters, 'instanceIds'), 'i-[0-9a-fA-F]')
),
breadth AS (
  SELECT arn, recipientAccountId, awsRegion, sum(n) AS n_instances
  FROM (
    SELECT arn, recipientAccountId, awsRegion, instance_ids, max(n_ids) AS n
    FROM sends
    GROUP BY arn, recipientAccountId, awsRegion, instance_ids
  ) AS distinct_target_lists
  GROUP BY arn, recipientAccountId, awsRegion
)
SELECT
  array_agg(s.eventID) AS event_ids,
  min(s.eventTime) AS first_seen,
  max(s.eventTime) AS last_seen,
  s.arn AS actor_arn,
  arbitrary(s.utype) AS actor_type,
  max_by(s.akid, s.eventTime) AS access_key_id,
  max_by(s.sourceIPAddress, s.eventTime) AS source_ip,
  max_by(s.userAgent, s.eventTime) AS user_agent,
  s.recipientAccountId AS account_id,
  s.awsRegion AS region,
  'SendCommand' AS event_name,
  array_join(array_sort(array_agg(DISTINCT s.instance_ids)), ',') AS target,
  arbitrary(s.principal_arn) AS principal_arn,
  array_join(array_sort(array_agg(DISTINCT s.document)), ',') AS document_name,
  arbitrary(b.n_instances) AS n_instances,
  count(*) AS n_events
FROM sends s
JOIN breadth b ON b.arn = s.arn AND b.recipientAccountId = s.recipientAccountId AND b.awsRegion = s.awsRegion
GROUP BY s.arn, s.recipientAccountId, s.awsRegion
HAVING arbitrary(b.n_instances) >= $THRESHOLD
