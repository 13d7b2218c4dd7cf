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
WITH iam AS (
  SELECT
    eventID, eventTime, eventName, sourceIPAddress, userAgent, recipientAccountId, awsRegion,
    userIdentity.arn AS arn, userIdentity.type AS utype, userIdentity.accessKeyId AS akid,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    element_at(requestParameters, 'roleName') AS role_name,
    CASE WHEN eventName = 'CreateRole' THEN 1 ELSE 0 END AS is_create,
    CASE WHEN eventName <> 'CreateRole' THEN NULL
      WHEN regexp_like(element_at(requestParameters, 'assumeRolePolicyDocument'), '"Principal"\s*:\s*"\*"')
        OR regexp_like(element_at(requestParameters, 'assumeRolePolicyDocument'), '"AWS"\s*:\s*(\[[^\]]*)?"\*"') THEN '*'
      ELSE nullif(regexp_extract(replace(element_at(requestParameters, 'assumeRolePolicyDocument'), recipientAccountId, ''),
                                 '(arn:aws:iam::|"AWS"\s*:\s*\[?\s*"|,\s*")([0-9]{12})', 2), '')
    END AS foreign_trust
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'iam.amazonaws.com'
    AND eventName IN ('CreateRole', 'AttachRolePolicy', 'PutRolePolicy')
    AND errorCode IS NULL
    AND (eventName = 'CreateRole'
         OR (eventName = 'AttachRolePolicy'
             AND regexp_like(element_at(requestParameters, 'policyArn'), ':policy/AdministratorAccess$'))
         OR (eventName = 'PutRolePolicy'
             AND regexp_like(element_at(requestParameters, 'policyDocument'), '"Action"\s*:\s*(\[\s*)?"\*"')))
)
SELECT
  array_agg(eventID) AS event_ids,
  min(eventTime) AS first_seen,
  max(eventTime) AS last_seen,
  max_by(arn, is_create) AS actor_arn,
  max_by(utype, is_create) AS actor_type,
  max_by(akid, is_create) AS access_key_id,
  max_by(sourceIPAddress, is_create) AS source_ip,
  max_by(userAgent, is_create) AS user_agent,
  max_by(recipientAccountId, is_create) AS account_id,
  max_by(awsRegion, is_create) AS region,
  array_join(array_sort(array_agg(DISTINCT eventName)), ',') AS event_name,
  role_name AS target,
  max_by(principal_arn, is_create) AS principal_arn,
  role_name,
  max(foreign_trust) AS external_account,
  CASE WHEN count(*) > count_if(is_create = 1) THEN 'trust to another account or anyone; administrator permissions granted'
       ELSE 'trust to another account or anyone' END AS details
FROM iam
GROUP BY role_name
HAVING max(foreign_trust) IS NOT NULL
