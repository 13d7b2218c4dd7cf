/*
id: sts_federation_token_issued
title: Federation token issued to an IAM user
description: >-
  An IAM user called GetFederationToken. The temporary credentials it returns keep working for
  up to 36 hours after the user's access key is deactivated, and their sessions do not show up
  as the user: a known way to keep access once a stolen key is about to be revoked. Few
  modern workloads still use it.
severity: medium
attack: [T1550.001, T1078.004]
techniques: [aws.persistence.sts-federation-token]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response:
  action: deny_all_user_policy
  params: {user_name: user_name}
false_positives:
  - Legacy brokers that mint federation tokens for end users (allowlist the broker user).
runbook: notebooks/compromised_credentials.ipynb
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
  element_at(requestParameters, 'name') AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  userIdentity.userName AS user_name,
  json_extract_scalar(element_at(responseElements, 'credentials'), '$.accessKeyId') AS issued_access_key_id,
  element_at(requestParameters, 'policy') AS details
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'sts.amazonaws.com'
  AND eventName = 'GetFederationToken'
  AND errorCode IS NULL
  AND userIdentity.type = 'IAMUser'
