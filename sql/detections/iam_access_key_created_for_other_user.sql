/*
id: iam_access_key_created_for_other_user
title: Access key created for another, existing IAM user
description: >-
  A principal created an access key for a different IAM user that it did not itself create in
  the window. Adding a key to an existing user is a quiet way to keep access: the key works
  until someone notices it. (Keys given to a user the same principal has just created are
  provisioning; see iam_credentials_for_new_user.) CloudFormation-driven calls are left out.
severity: medium
attack: [T1098.001]
techniques: [aws.persistence.iam-backdoor-user]
schedule: 15m
lookback: 1d
dedup_key: [actor_arn, target, event_name]
threshold: null
response: 
  action: deactivate_access_key
  params: {user_name: user_name, access_key_id: new_access_key_id}
false_positives:
  - An administrator rotating a service user's key by hand (allowlist the admin role).
runbook: notebooks/compromised_credentials.ipynb
*/
WITH iam AS (
  SELECT *,
    element_at(requestParameters, 'userName') AS user_name,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'iam.amazonaws.com'
    AND eventName IN ('CreateUser', 'CreateAccessKey')
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
WHERE eventName IN ('CreateAccessKey')
  AND userIdentity.invokedBy IS NULL
  AND user_name IS NOT NULL
  AND user_name <> coalesce(userIdentity.userName, '')
  AND created_before = 0
