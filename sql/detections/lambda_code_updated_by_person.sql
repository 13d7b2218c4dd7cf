/*
id: lambda_code_updated_by_person
title: Lambda function code replaced by a person rather than a pipeline
description: >-
  UpdateFunctionCode replaced a function's code from an IAM user's long-term key, the root user,
  or a console, MFA or IAM Identity Center session. Deployments go through CI/CD or IaC roles;
  code pushed by hand is how an attacker turns a function (and its role) into their own.
  CloudFormation-driven calls are left out.
severity: medium
attack: [T1525, T1648]
techniques: [aws.persistence.lambda-overwrite-code]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response: null
false_positives:
  - Hot-fixes pushed from a developer laptop, CI systems that deploy with an IAM user's key (allowlist that user).
runbook: notebooks/tampering_and_exposure.ipynb
*/
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
  coalesce(element_at(split(element_at(requestParameters, 'functionName'), ':'), 7), element_at(requestParameters, 'functionName')) AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  element_at(responseElements, 'codeSha256') AS details
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'lambda.amazonaws.com'
  AND eventName LIKE 'UpdateFunctionCode%'
  AND errorCode IS NULL
  AND userIdentity.invokedBy IS NULL
  AND (
    userIdentity.type IN ('IAMUser', 'Root')
    OR sessionCredentialFromConsole = 'true'
    OR userIdentity.sessionContext.attributes.mfaAuthenticated = 'true'
    OR strpos(userIdentity.sessionContext.sessionIssuer.arn, ':role/aws-reserved/sso.amazonaws.com/') > 0
  )
