/*
id: trailhound_state_machine_tampered
title: TrailHound's investigation state machine changed, deleted or stopped
description: >-
  A Step Functions state machine whose name starts with "trailhound" (or is the CDK-generated
  name of TrailHound's InvestigationStateMachine) was updated or deleted, or
  one of its executions was stopped: investigations (and containment) can be rewritten or halted
  mid-flight. Changes made through CloudFormation (the CDK deployment) are left out.
severity: high
attack: [T1562.001]
techniques: []
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target, event_name]
threshold: null
response: null
false_positives:
  - An operator stopping a stuck investigation by hand (allowlist the operator role).
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
  coalesce(element_at(requestParameters, 'stateMachineArn'), element_at(requestParameters, 'executionArn')) AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'states.amazonaws.com'
  AND eventName IN ('UpdateStateMachine', 'DeleteStateMachine', 'StopExecution', 'DeleteStateMachineVersion',
                    'UpdateStateMachineAlias', 'DeleteStateMachineAlias')
  AND errorCode IS NULL
  AND userIdentity.invokedBy IS NULL
  AND regexp_like(lower(coalesce(element_at(requestParameters, 'stateMachineArn'), element_at(requestParameters, 'executionArn'),
                                 element_at(requestParameters, 'stateMachineAliasArn'), '')),
                  ':(statemachine|execution):(trailhound|investigationstatemachine[0-9a-f]{8}-)')
