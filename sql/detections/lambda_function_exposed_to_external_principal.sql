/*
id: lambda_function_exposed_to_external_principal
title: Lambda function policy lets anyone or another account invoke it
description: >-
  AddPermission added a statement to a function's resource policy whose principal is "*" or an
  AWS account other than this one: the function (and the role it runs with) can now be invoked
  from outside. Accounts listed in known_accounts (trailhound.yaml) are not reported.
severity: high
attack: [T1546, T1098]
techniques: [aws.persistence.lambda-backdoor-function]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target, external_account]
threshold: null
response:
  action: remove_public_function_policy
  params: {function_name: function_name}
false_positives:
  - Functions shared with a partner or another company account (add it to known_accounts).
runbook: notebooks/tampering_and_exposure.ipynb
*/
WITH grants AS (
  SELECT *,
    element_at(requestParameters, 'principal') AS grantee,
    coalesce(element_at(split(element_at(requestParameters, 'functionName'), ':'), 7), element_at(requestParameters, 'functionName')) AS function_name
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'lambda.amazonaws.com'
    AND eventName LIKE 'AddPermission%'
    AND errorCode IS NULL
),
scored AS (
  SELECT *,
    CASE
      WHEN grantee = '*' THEN '*'
      WHEN strpos(grantee, recipientAccountId) > 0 THEN NULL
      ELSE nullif(regexp_extract(grantee, '^(arn:aws:iam::)?([0-9]{12})', 2), '')
    END AS external_account
  FROM grants
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
  function_name AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  function_name,
  external_account,
  concat(coalesce(element_at(requestParameters, 'action'), ''), ' for ', grantee) AS details
FROM scored
WHERE external_account IS NOT NULL
