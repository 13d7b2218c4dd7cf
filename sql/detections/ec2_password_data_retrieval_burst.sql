/*
id: ec2_password_data_retrieval_burst
title: Windows administrator passwords requested for many instances
description: >-
  One principal called ec2:GetPasswordData for several distinct instances in the window, whether
  the calls succeeded or failed. Fetching the encrypted Administrator password of one Windows
  instance is an everyday admin task; sweeping many instances is credential harvesting, and a run
  of UnauthorizedOperation errors shows stolen credentials testing what they can reach.
severity: high
attack: [T1552]
techniques: [aws.credential-access.ec2-get-password-data]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, region]
threshold: {column: n_instances, min: 5}
response: null
false_positives:
  - A fleet tool that collects Windows passwords for a password vault (allowlist its role).
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
  'GetPasswordData' AS event_name,
  array_join(array_sort(array_agg(DISTINCT element_at(requestParameters, 'instanceId'))), ',') AS target,
  arbitrary(coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn)) AS principal_arn,
  count(DISTINCT element_at(requestParameters, 'instanceId')) AS n_instances,
  count(*) AS n_events,
  count_if(errorCode IS NOT NULL) AS n_errors
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'ec2.amazonaws.com'
  AND eventName = 'GetPasswordData'
  AND userIdentity.invokedBy IS NULL
GROUP BY userIdentity.arn, recipientAccountId, awsRegion
HAVING count(DISTINCT element_at(requestParameters, 'instanceId')) >= $THRESHOLD
