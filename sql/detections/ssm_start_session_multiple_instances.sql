/*
id: ssm_start_session_multiple_instances
title: SSM sessions opened on many instances from outside the console
description: >-
  One principal opened Session Manager shells (ssm:StartSession) on several distinct instances in
  the window, with API credentials rather than from the console. An interactive shell on many
  hosts in a short time is lateral movement; engineers usually open one or two, from the
  console.
severity: medium
attack: [T1021.008, T1651]
techniques: [aws.execution.ssm-start-session]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, region]
threshold: {column: n_instances, min: 3}
response: null
false_positives:
  - An engineer using `aws ssm start-session` across several hosts during an incident (allowlist or raise the threshold).
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
  'StartSession' AS event_name,
  array_join(array_sort(array_agg(DISTINCT element_at(requestParameters, 'target'))), ',') AS target,
  arbitrary(coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn)) AS principal_arn,
  count(DISTINCT element_at(requestParameters, 'target')) AS n_instances,
  count(*) AS n_events
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'ssm.amazonaws.com'
  AND eventName = 'StartSession'
  AND errorCode IS NULL
  AND userIdentity.invokedBy IS NULL
  AND coalesce(sessionCredentialFromConsole, 'false') <> 'true'
  AND regexp_like(element_at(requestParameters, 'target'), '^m?i-[0-9a-fA-F]+$')
GROUP BY userIdentity.arn, recipientAccountId, awsRegion
HAVING count(DISTINCT element_at(requestParameters, 'target')) >= $THRESHOLD
