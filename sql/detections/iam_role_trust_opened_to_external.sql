/*
id: iam_role_trust_opened_to_external
title: Role trust policy changed to let another account (or anyone) assume it
description: >-
  UpdateAssumeRolePolicy gave a principal outside this account, or any AWS principal ("*"), the
  right to assume an existing role: a persistent backdoor that survives password and key
  rotation. Accounts listed in known_accounts (trailhound.yaml) are not reported.
severity: high
attack: [T1098.003]
techniques: [aws.persistence.iam-backdoor-role]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target, external_account]
threshold: null
response:
  action: revoke_role_sessions
  params: {role_name: role_name}
false_positives:
  - New cross-account access for a vendor or another company account (add it to known_accounts).
runbook: notebooks/compromised_credentials.ipynb
*/
WITH trust AS (
  SELECT *,
    element_at(requestParameters, 'policyDocument') AS policy,
    replace(element_at(requestParameters, 'policyDocument'), recipientAccountId, '') AS foreign_policy
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'iam.amazonaws.com'
    AND eventName = 'UpdateAssumeRolePolicy'
    AND errorCode IS NULL
),
scored AS (
  SELECT *,
    CASE
      WHEN regexp_like(policy, '"Principal"\s*:\s*"\*"')
        OR regexp_like(policy, '"AWS"\s*:\s*(\[[^\]]*)?"\*"') THEN '*'
      ELSE nullif(regexp_extract(foreign_policy, '(arn:aws:iam::|"AWS"\s*:\s*\[?\s*"|,\s*")([0-9]{12})', 2), '')
    END AS external_account
  FROM trust
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
  element_at(requestParameters, 'roleName') AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  element_at(requestParameters, 'roleName') AS role_name,
  external_account,
  policy AS details
FROM scored
WHERE external_account IS NOT NULL
