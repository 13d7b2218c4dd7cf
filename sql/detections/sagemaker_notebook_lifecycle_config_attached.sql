/*
id: sagemaker_notebook_lifecycle_config_attached
title: Lifecycle script attached to or changed on a SageMaker notebook instance
description: >-
  A principal attached a lifecycle configuration to an existing notebook instance
  (UpdateNotebookInstance with a lifecycle configuration name) or rewrote the script of an
  existing lifecycle configuration. The script runs as root on the notebook at its next start
  with the notebook's execution role, so whoever can stop, update and start a notebook can run
  code as that (often powerful) role. Creating a notebook with its lifecycle configuration, and
  changes CloudFormation makes, are not flagged.
severity: high
attack: [T1059.009, T1098]
techniques: [aws.execution.sagemaker-update-lifecycle-config]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response: null
false_positives:
  - A data-platform team rolling out a new lifecycle script by hand or from a pipeline role (allowlist it).
runbook: notebooks/compromised_credentials.ipynb
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
  coalesce(element_at(requestParameters, 'notebookInstanceName'),
           element_at(requestParameters, 'notebookInstanceLifecycleConfigName')) AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  coalesce(element_at(requestParameters, 'lifecycleConfigName'),
           element_at(requestParameters, 'notebookInstanceLifecycleConfigName')) AS lifecycle_config
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'sagemaker.amazonaws.com'
  AND errorCode IS NULL
  AND coalesce(userIdentity.invokedBy, '') <> 'cloudformation.amazonaws.com'
  AND ((eventName = 'UpdateNotebookInstance'
        AND coalesce(element_at(requestParameters, 'lifecycleConfigName'), '') <> '')
       OR eventName = 'UpdateNotebookInstanceLifecycleConfig')
