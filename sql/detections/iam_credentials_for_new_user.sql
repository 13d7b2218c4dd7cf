/*
id: iam_credentials_for_new_user
title: Credentials given to an IAM user the same principal just created
description: >-
  A principal created an IAM user and then gave it an access key or a console password. This is
  how IaC and onboarding provision users, and also how an attacker mints a user of their own:
  low severity on its own, context for the other IAM findings (an admin policy on that user
  raises iam_admin_user_created).
severity: low
attack: [T1136.003, T1098.001]
techniques: [aws.persistence.iam-backdoor-user, aws.persistence.iam-create-user-login-profile]
schedule: 15m
lookback: 1d
dedup_key: [actor_arn, target, event_name]
threshold: null
response: null
false_positives:
  - Every IaC or onboarding run that creates users with credentials.
runbook: notebooks/compromised_credentials.ipynb
*/
WITH iam AS (
  SELECT *,
    element_at(requestParameters, 'userName') AS user_name,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'iam.amazonaws.com'
    AND eventName IN ('CreateUser', 'CreateAccessKey', 'CreateLoginProfile')
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
WHERE eventName IN ('CreateAccessKey', 'CreateLoginProfile')
  AND userIdentity.invokedBy IS NULL
  AND user_name IS NOT NULL
  AND user_name <> coalesce(userIdentity.userName, '')
  AND created_before > 0
