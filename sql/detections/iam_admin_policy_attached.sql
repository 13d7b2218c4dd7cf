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
WITH grants AS (
  SELECT *,
    coalesce(element_at(requestParameters, 'userName'), element_at(requestParameters, 'roleName'),
             element_at(requestParameters, 'groupName')) AS identity_name,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'iam.amazonaws.com'
    AND errorCode IS NULL
    AND userIdentity.invokedBy IS NULL
    AND (
      (eventName IN ('AttachUserPolicy', 'AttachRolePolicy', 'AttachGroupPolicy')
       AND regexp_like(element_at(requestParameters, 'policyArn'), ':policy/AdministratorAccess$'))
      OR (eventName IN ('PutUserPolicy', 'PutRolePolicy', 'PutGroupPolicy')
          AND regexp_like(element_at(requestParameters, 'policyDocument'), '"Effect"\s*:\s*"Allow"')
          AND regexp_like(element_at(requestParameters, 'policyDocument'), '"Action"\s*:\s*(\[\s*)?"(\*|iam:\*)"'))
    )
),
created AS (
  SELECT
    coalesce(element_at(requestParameters, 'userName'), element_at(requestParameters, 'roleName'),
             element_at(requestParameters, 'groupName')) AS identity_name,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    min(eventTime) AS created_at
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'iam.amazonaws.com'
    AND eventName IN ('CreateUser', 'CreateRole', 'CreateGroup')
    AND errorCode IS NULL
  GROUP BY 1, 2
)
SELECT
  ARRAY[g.eventID] AS event_ids,
  g.eventTime AS first_seen,
  g.eventTime AS last_seen,
  g.userIdentity.arn AS actor_arn,
  g.userIdentity.type AS actor_type,
  g.userIdentity.accessKeyId AS access_key_id,
  g.sourceIPAddress AS source_ip,
  g.userAgent AS user_agent,
  g.recipientAccountId AS account_id,
  g.awsRegion AS region,
  g.eventName AS event_name,
  g.identity_name AS target,
  g.principal_arn,
  coalesce(element_at(g.requestParameters, 'policyArn'), element_at(g.requestParameters, 'policyName')) AS details
FROM grants g
LEFT JOIN created c
  ON c.identity_name = g.identity_name AND c.principal_arn = g.principal_arn AND c.created_at <= g.eventTime
WHERE c.identity_name IS NULL
