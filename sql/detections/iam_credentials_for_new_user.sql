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
WITH creds AS (
  SELECT *,
    element_at(requestParameters, 'userName') AS user_name,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'iam.amazonaws.com'
    AND eventName IN ('CreateAccessKey', 'CreateLoginProfile')
    AND errorCode IS NULL
    AND userIdentity.invokedBy IS NULL
    AND element_at(requestParameters, 'userName') IS NOT NULL
    AND element_at(requestParameters, 'userName') <> coalesce(userIdentity.userName, '')
),
created AS (
  SELECT
    element_at(requestParameters, 'userName') AS user_name,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    min(eventTime) AS created_at
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'iam.amazonaws.com'
    AND eventName = 'CreateUser'
    AND errorCode IS NULL
  GROUP BY 1, 2
)
SELECT
  ARRAY[k.eventID] AS event_ids,
  k.eventTime AS first_seen,
  k.eventTime AS last_seen,
  k.userIdentity.arn AS actor_arn,
  k.userIdentity.type AS actor_type,
  k.userIdentity.accessKeyId AS access_key_id,
  k.sourceIPAddress AS source_ip,
  k.userAgent AS user_agent,
  k.recipientAccountId AS account_id,
  k.awsRegion AS region,
  k.eventName AS event_name,
  k.user_name AS target,
  k.principal_arn,
  k.user_name,
  json_extract_scalar(element_at(k.responseElements, 'accessKey'), '$.accessKeyId') AS new_access_key_id,
  element_at(k.requestParameters, 'passwordResetRequired') AS password_reset_required
FROM creds k
LEFT JOIN created c
  ON c.user_name = k.user_name AND c.principal_arn = k.principal_arn AND c.created_at <= k.eventTime
WHERE c.user_name IS NOT NULL
