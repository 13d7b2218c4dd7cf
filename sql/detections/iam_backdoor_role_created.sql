/*
id: iam_backdoor_role_created
title: New role that another account (or anyone) can assume
description: >-
  CreateRole made a role whose trust policy lets a principal outside this account, or any AWS
  principal ("*"), assume it. With permissions attached (the details say whether
  AdministratorAccess followed in the window) it is a ready-made backdoor into the account.
  Accounts listed in known_accounts (trailhound.yaml) are not reported.
severity: high
attack: [T1098.003, T1136.003]
techniques: [aws.persistence.iam-create-backdoor-role]
schedule: 15m
lookback: 1d
dedup_key: [actor_arn, target, external_account]
threshold: null
response:
  action: revoke_role_sessions
  params: {role_name: role_name}
false_positives:
  - Cross-account roles for a vendor or another company account (add the account to known_accounts).
runbook: notebooks/compromised_credentials.ipynb
*/
WITH roles AS (
  SELECT *,
    element_at(requestParameters, 'roleName') AS role_name,
    element_at(requestParameters, 'assumeRolePolicyDocument') AS policy,
    replace(element_at(requestParameters, 'assumeRolePolicyDocument'), recipientAccountId, '') AS foreign_policy
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'iam.amazonaws.com'
    AND eventName = 'CreateRole'
    AND errorCode IS NULL
),
scored AS (
  SELECT *,
    CASE
      WHEN regexp_like(policy, '"Principal"\s*:\s*"\*"')
        OR regexp_like(policy, '"AWS"\s*:\s*(\[[^\]]*)?"\*"') THEN '*'
      ELSE nullif(regexp_extract(foreign_policy, '(arn:aws:iam::|"AWS"\s*:\s*\[?\s*"|,\s*")([0-9]{12})', 2), '')
    END AS external_account
  FROM roles
),
admin AS (
  SELECT element_at(requestParameters, 'roleName') AS role_name, array_agg(eventID) AS ids, max(eventTime) AS last_at
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'iam.amazonaws.com'
    AND errorCode IS NULL
    AND ((eventName = 'AttachRolePolicy'
          AND regexp_like(element_at(requestParameters, 'policyArn'), ':policy/AdministratorAccess$'))
         OR (eventName = 'PutRolePolicy'
             AND regexp_like(element_at(requestParameters, 'policyDocument'), '"Action"\s*:\s*(\[\s*)?"\*"')))
  GROUP BY 1
)
SELECT
  CASE WHEN a.ids IS NULL THEN ARRAY[s.eventID] ELSE concat(ARRAY[s.eventID], a.ids) END AS event_ids,
  s.eventTime AS first_seen,
  greatest(s.eventTime, coalesce(a.last_at, s.eventTime)) AS last_seen,
  s.userIdentity.arn AS actor_arn,
  s.userIdentity.type AS actor_type,
  s.userIdentity.accessKeyId AS access_key_id,
  s.sourceIPAddress AS source_ip,
  s.userAgent AS user_agent,
  s.recipientAccountId AS account_id,
  s.awsRegion AS region,
  s.eventName AS event_name,
  s.role_name AS target,
  coalesce(s.userIdentity.sessionContext.sessionIssuer.arn, s.userIdentity.arn) AS principal_arn,
  s.role_name,
  s.external_account,
  CASE WHEN a.ids IS NULL THEN 'trust to another account' ELSE 'trust to another account; AdministratorAccess attached' END AS details
FROM scored s
LEFT JOIN admin a ON a.role_name = s.role_name
WHERE s.external_account IS NOT NULL
