/*
id: iam_admin_policy_attached
title: Administrator permissions granted to an existing IAM user, role or group
description: >-
  AdministratorAccess was attached, or an inline policy allowing every action ("*" or "iam:*")
  was put, on a user, role or group that the same principal did not create in the window:
  privilege escalation of an existing identity. Identities created together with their
  policies are provisioning (the sequences that matter, an admin user with credentials or an
  admin role trusting another account, have their own detections). CloudFormation-driven calls
  are left out.
severity: medium
attack: [T1098.003]
techniques: []
schedule: 15m
lookback: 1d
dedup_key: [actor_arn, target]
threshold: null
response: null
false_positives:
  - Break-glass procedures that grant admin temporarily (allowlist the break-glass role).
runbook: notebooks/compromised_credentials.ipynb
*/
WITH iam AS (
  SELECT *,
    coalesce(element_at(requestParameters, 'userName'), element_at(requestParameters, 'roleName'),
             element_at(requestParameters, 'groupName')) AS identity_name,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'iam.amazonaws.com'
    AND eventName IN ('CreateUser', 'CreateRole', 'CreateGroup', 'AttachUserPolicy', 'AttachRolePolicy',
                      'AttachGroupPolicy', 'PutUserPolicy', 'PutRolePolicy', 'PutGroupPolicy')
    AND errorCode IS NULL
),
marked AS (
  SELECT *,
    count_if(eventName IN ('CreateUser', 'CreateRole', 'CreateGroup'))
      OVER (PARTITION BY principal_arn, identity_name ORDER BY eventTime) AS created_before
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
  identity_name AS target,
  principal_arn,
  coalesce(element_at(requestParameters, 'policyArn'), element_at(requestParameters, 'policyName')) AS details
FROM marked
WHERE created_before = 0
  AND userIdentity.invokedBy IS NULL
  AND (
    (eventName IN ('AttachUserPolicy', 'AttachRolePolicy', 'AttachGroupPolicy')
     AND regexp_like(element_at(requestParameters, 'policyArn'), ':policy/AdministratorAccess$'))
    OR (eventName IN ('PutUserPolicy', 'PutRolePolicy', 'PutGroupPolicy')
        AND regexp_like(element_at(requestParameters, 'policyDocument'), '"Effect"\s*:\s*"Allow"')
        AND regexp_like(element_at(requestParameters, 'policyDocument'), '"Action"\s*:\s*(\[\s*)?"(\*|iam:\*)"'))
  )
