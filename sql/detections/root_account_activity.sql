/*
id: root_account_activity
title: Root user activity
description: >-
  The account's root user signed in or called an API. Day-to-day work never needs root; its use
  means either a rare, documented task or stolen root credentials. Calls AWS services make on the
  root user's behalf and failed sign-in attempts are left out.
severity: high
attack: [T1078.004]
techniques: []
schedule: 15m
lookback: 1h
dedup_key: [account_id, source_ip]
threshold: null
response: null
false_positives:
  - Documented root-only tasks (closing the account, changing the support plan); allowlist the office IP for the change window.
runbook: notebooks/compromised_credentials.ipynb
*/
SELECT
  array_agg(eventID) AS event_ids,
  min(eventTime) AS first_seen,
  max(eventTime) AS last_seen,
  userIdentity.arn AS actor_arn,
  arbitrary(userIdentity.type) AS actor_type,
  max(userIdentity.accessKeyId) AS access_key_id,
  sourceIPAddress AS source_ip,
  arbitrary(userAgent) AS user_agent,
  recipientAccountId AS account_id,
  arbitrary(awsRegion) AS region,
  array_join(array_sort(array_agg(DISTINCT eventName)), ',') AS event_name,
  recipientAccountId AS target,
  userIdentity.arn AS principal_arn,
  count(*) AS n_events
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND userIdentity.type = 'Root'
  AND userIdentity.invokedBy IS NULL
  AND eventType IN ('AwsApiCall', 'AwsConsoleAction', 'AwsConsoleSignIn')
  AND coalesce(element_at(responseElements, 'ConsoleLogin'), '') <> 'Failure'
GROUP BY recipientAccountId, userIdentity.arn, sourceIPAddress
