/*
id: iam_password_changed_for_other_user
title: Console password of another IAM user changed
description: >-
  UpdateLoginProfile set a new console password for a different IAM user. Whoever changed it can
  sign in as that user, who is locked out. (Users change their own password with ChangePassword.)
  CloudFormation-driven calls are left out.
severity: medium
attack: [T1098]
techniques: [aws.privilege-escalation.iam-update-user-login-profile]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response:
  action: disable_console_access
  params: {user_name: user_name}
false_positives:
  - Help-desk password resets (allowlist the help-desk role).
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
  element_at(requestParameters, 'userName') AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  element_at(requestParameters, 'userName') AS user_name,
  element_at(requestParameters, 'passwordResetRequired') AS password_reset_required
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'iam.amazonaws.com'
  AND eventName = 'UpdateLoginProfile'
  AND errorCode IS NULL
  AND userIdentity.invokedBy IS NULL
  AND element_at(requestParameters, 'userName') IS NOT NULL
  AND element_at(requestParameters, 'userName') <> coalesce(userIdentity.userName, '')
