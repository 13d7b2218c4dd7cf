/*
id: iam_login_profile_created_for_other_user
title: Console password created for another, existing IAM user
description: >-
  A principal created a login profile (console password) for a different IAM user that it did
  not itself create in the window: whoever set the password can now sign in to the console as
  that user. CloudFormation-driven calls are left out.
severity: medium
attack: [T1098]
techniques: [aws.persistence.iam-create-user-login-profile]
schedule: 15m
lookback: 1d
dedup_key: [actor_arn, target, event_name]
threshold: null
response: 
  action: disable_console_access
  params: {user_name: user_name}
false_positives:
  - Help-desk onboarding of a user created earlier (allowlist the help-desk role).
runbook: notebooks/compromised_credentials.ipynb
*/
WITH iam AS (
  SELECT *,
    element_at(requestParameters, 'userName') AS user_name,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'iam.amazonaws.com'
    AND eventName IN ('CreateUser', 'CreateLoginProfile')
    AND errorCode IS NULL
),
marked AS (
  SELECT *,
    count_if(eventName = 'CreateUser') OVER (PARTITION BY principal_arn, user_name ORDER BY eventTime) AS created_before
  FROM iam
)
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
  user_name AS target,
  principal_arn,
  user_name,
  json_extract_scalar(element_at(responseElements, 'accessKey'), '$.accessKeyId') AS new_access_key_id,
  element_at(requestParameters, 'passwordResetRequired') AS password_reset_required
FROM marked
WHERE eventName IN ('CreateLoginProfile')
  AND userIdentity.invokedBy IS NULL
  AND user_name IS NOT NULL
  AND user_name <> coalesce(userIdentity.userName, '')
  AND created_before = 0
