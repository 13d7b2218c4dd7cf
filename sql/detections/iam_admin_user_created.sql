/*
id: iam_admin_user_created
title: New IAM user created with administrator permissions and credentials
description: >-
  The same principal created an IAM user, gave it administrator permissions (AdministratorAccess
  or an inline policy allowing "*") and credentials (an access key or a console password): a
  ready-made administrative backdoor identity. CloudFormation-driven calls are left out.
severity: high
attack: [T1136.003, T1098.003]
techniques: [aws.persistence.iam-create-admin-user]
schedule: 15m
lookback: 1d
dedup_key: [actor_arn, target]
threshold: null
response:
  action: deny_all_user_policy
  params: {user_name: user_name}
false_positives:
  - Emergency (break-glass) admin users created by the platform's IaC outside CloudFormation (allowlist its role).
runbook: notebooks/compromised_credentials.ipynb
*/
WITH calls AS (
  SELECT
    eventID, eventTime, eventName, sourceIPAddress, userAgent, recipientAccountId, awsRegion,
    userIdentity.arn AS arn, userIdentity.type AS utype, userIdentity.accessKeyId AS akid,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    element_at(requestParameters, 'userName') AS user_name,
    (eventName = 'AttachUserPolicy'
     AND regexp_like(element_at(requestParameters, 'policyArn'), ':policy/AdministratorAccess$'))
    OR (eventName = 'PutUserPolicy'
        AND regexp_like(element_at(requestParameters, 'policyDocument'), '"Action"\s*:\s*(\[\s*)?"(\*|iam:\*)"')) AS admin_grant
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'iam.amazonaws.com'
    AND errorCode IS NULL
    AND userIdentity.invokedBy IS NULL
    AND eventName IN ('CreateUser', 'AttachUserPolicy', 'PutUserPolicy', 'CreateAccessKey', 'CreateLoginProfile')
    AND element_at(requestParameters, 'userName') IS NOT NULL
)
SELECT
  array_agg(eventID) AS event_ids,
  min(eventTime) AS first_seen,
  max(eventTime) AS last_seen,
  arn AS actor_arn,
  arbitrary(utype) AS actor_type,
  arbitrary(akid) AS access_key_id,
  arbitrary(sourceIPAddress) AS source_ip,
  arbitrary(userAgent) AS user_agent,
  arbitrary(recipientAccountId) AS account_id,
  arbitrary(awsRegion) AS region,
  array_join(array_sort(array_agg(DISTINCT eventName)), ',') AS event_name,
  user_name AS target,
  arbitrary(principal_arn) AS principal_arn,
  user_name,
  count(*) AS n_events
FROM calls
GROUP BY arn, user_name
HAVING count_if(eventName = 'CreateUser') > 0
   AND count_if(eventName IN ('CreateAccessKey', 'CreateLoginProfile')) > 0
   AND count_if(admin_grant) > 0
