/*
id: trailhound_function_tampered
title: TrailHound's own Lambda functions changed or deleted
description: >-
  A Lambda function whose name starts with "trailhound" had its code or configuration replaced,
  was deleted, throttled to zero, or had its permissions changed. The responder's detection,
  investigation or containment code is no longer what was deployed. Changes made through
  CloudFormation (the CDK deployment) are left out.
severity: high
attack: [T1562.001, T1525]
techniques: []
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target, event_name]
threshold: null
response: null
false_positives:
  - A hand-applied hot-fix to TrailHound itself (deploy through the pipeline instead).
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
  element_at(requestParameters, 'reservedConcurrentExecutions') AS details
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'lambda.amazonaws.com'
  AND errorCode IS NULL
  AND userIdentity.invokedBy IS NULL
  AND (eventName LIKE 'UpdateFunctionCode%'
       OR eventName LIKE 'UpdateFunctionConfiguration%'
       OR eventName LIKE 'DeleteFunction%'
       OR eventName LIKE 'PutFunctionConcurrency%'
       OR eventName LIKE 'AddPermission%'
       OR eventName LIKE 'RemovePermission%'
       OR eventName LIKE 'DeleteEventSourceMapping%')
  AND regexp_like(lower(coalesce(element_at(requestParameters, 'functionName'), '')), '(^|[:/])trailhound')
