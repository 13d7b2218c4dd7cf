/*
id: lambda_layer_added_to_function
title: Lambda layer from another account, or added by hand, on an existing function
description: >-
  UpdateFunctionConfiguration attached layers to an existing function, where a layer belongs to
  another AWS account, or the change was made by a person (an IAM user's key, root, a console,
  MFA or IAM Identity Center session) rather than a deployment pipeline. A layer (or extension)
  runs inside every invocation with the function's role and sees its event data.
  Layer accounts listed in known_accounts (trailhound.yaml) are not reported when that is the
  only reason.
severity: medium
attack: [T1525, T1574]
techniques: [aws.persistence.lambda-layer-extension]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target, details]
threshold: null
response: null
false_positives:
  - Vendor layers (monitoring, secrets extensions) added during a manual trial (add the vendor's account to known_accounts).
runbook: notebooks/tampering_and_exposure.ipynb
*/
WITH changes AS (
  SELECT *,
    element_at(requestParameters, 'layers') AS layers,
    coalesce(element_at(split(element_at(requestParameters, 'functionName'), ':'), 7), element_at(requestParameters, 'functionName')) AS function_name,
    nullif(regexp_extract(replace(element_at(requestParameters, 'layers'), concat(':', recipientAccountId, ':'), ':'),
                          'arn:aws[a-z-]*:lambda:[a-z0-9-]+:([0-9]{12}):layer:', 1), '') AS foreign_account,
    (
        userIdentity.type IN ('IAMUser', 'Root')
        OR sessionCredentialFromConsole = 'true'
        OR userIdentity.sessionContext.attributes.mfaAuthenticated = 'true'
        OR strpos(userIdentity.sessionContext.sessionIssuer.arn, ':role/aws-reserved/sso.amazonaws.com/') > 0
      ) AS by_person
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'lambda.amazonaws.com'
    AND eventName LIKE 'UpdateFunctionConfiguration%'
    AND errorCode IS NULL
    AND userIdentity.invokedBy IS NULL
    AND regexp_like(element_at(requestParameters, 'layers'), ':layer:')
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
  CASE WHEN by_person THEN NULL ELSE foreign_account END AS external_account,
  layers AS details
FROM changes
WHERE foreign_account IS NOT NULL OR by_person
