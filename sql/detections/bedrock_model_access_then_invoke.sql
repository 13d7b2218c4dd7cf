/*
id: bedrock_model_access_then_invoke
title: Bedrock model access set up, then a model invoked, by the same session
description: >-
  One session, outside the console, worked on getting access to a Bedrock foundation model
  (availability and agreement-offer checks, use-case submission, model agreement, entitlement:
  calls the console makes for an administrator, rarely code) and then invoked a model
  (InvokeModel, Converse, or their streaming variants). This is the LLMjacking pattern: stolen
  credentials turn on expensive models and start running inference, often to resell access.
  Applications only invoke models that are already enabled.
severity: medium
attack: [T1496.004]
techniques: [aws.impact.bedrock-invoke-model]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, region]
threshold: null
response: null
false_positives:
  - A platform engineer enabling a model from a script and smoke-testing it (allowlist the role).
runbook: notebooks/compromised_credentials.ipynb
*/
WITH calls AS (
  SELECT
    eventID, eventTime, eventName, errorCode, userIdentity.arn AS arn, userIdentity.type AS utype,
    userIdentity.accessKeyId AS akid, sourceIPAddress, userAgent, recipientAccountId, awsRegion,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    element_at(requestParameters, 'modelId') AS model_id,
    CASE
      WHEN eventName IN ('InvokeModel', 'InvokeModelWithResponseStream', 'Converse', 'ConverseStream') THEN 'invoke'
      ELSE 'setup'
    END AS kind
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'bedrock.amazonaws.com'
    AND eventName IN ('GetFoundationModelAvailability', 'ListFoundationModelAgreementOffers',
                      'PutUseCaseForModelAccess', 'GetUseCaseForModelAccess', 'CreateFoundationModelAgreement',
                      'PutFoundationModelEntitlement', 'InvokeModel', 'InvokeModelWithResponseStream',
                      'Converse', 'ConverseStream')
    AND userIdentity.invokedBy IS NULL
    AND coalesce(sessionCredentialFromConsole, 'false') <> 'true'
)
SELECT
  array_agg(eventID) AS event_ids,
  min(eventTime) AS first_seen,
  max(eventTime) AS last_seen,
  arn AS actor_arn,
  arbitrary(utype) AS actor_type,
  max_by(akid, eventTime) AS access_key_id,
  max_by(sourceIPAddress, eventTime) AS source_ip,
  max_by(userAgent, eventTime) AS user_agent,
  recipientAccountId AS account_id,
  awsRegion AS region,
  array_join(array_sort(array_agg(DISTINCT eventName)), ',') AS event_name,
  coalesce(array_join(array_sort(array_agg(DISTINCT model_id)), ','), 'bedrock') AS target,
  arbitrary(principal_arn) AS principal_arn,
  count_if(kind = 'setup') AS n_setup_calls,
  count_if(kind = 'invoke') AS n_invocations
FROM calls
GROUP BY arn, recipientAccountId, awsRegion
HAVING count_if(kind = 'setup') > 0
   AND count_if(kind = 'invoke') > 0
   AND max(CASE WHEN kind = 'invoke' THEN eventTime END) >= min(CASE WHEN kind = 'setup' THEN eventTime END)
