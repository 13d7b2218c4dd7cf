/*
id: console_login_without_mfa
title: IAM user signed in to the console without MFA
description: >-
  An IAM user signed in to the AWS console successfully with a password alone (MFAUsed=No). A
  password is all an attacker with a phished or leaked credential, or with a login profile they
  created themselves, needs; MFA is what stops them.
severity: medium
attack: [T1078.004]
techniques: [aws.initial-access.console-login-without-mfa]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, source_ip]
threshold: null
response:
  action: disable_console_access
  params: {user_name: user_name}
false_positives:
  - Break-glass users without MFA by design (allowlist their ARN), service accounts used in the console.
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
  userIdentity.userName AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  userIdentity.userName AS user_name
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'signin.amazonaws.com'
  AND eventName = 'ConsoleLogin'
  AND userIdentity.type = 'IAMUser'
  AND element_at(responseElements, 'ConsoleLogin') = 'Success'
  AND element_at(additionalEventData, 'MFAUsed') = 'No'
