/*
id: ec2_unusual_instance_type_launch
title: GPU, accelerator or very large EC2 instances launched
description: >-
  A principal asked to launch instances of an accelerated family (GPU p/g, Inferentia, Trainium,
  Gaudi, FPGA) or of a very large size (24xlarge and up, bare metal), whether EC2 accepted or
  refused the request. These are the instance types crypto-mining and model-abuse campaigns
  reach for first with stolen credentials; a refused attempt (UnauthorizedOperation,
  quota exceeded) is as telling as a successful one.
severity: medium
attack: [T1496.001, T1578.002]
techniques: [aws.execution.ec2-launch-unusual-instances]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response: null
false_positives:
  - ML or HPC teams that launch GPU or large instances from a known role (allowlist that role).
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
  element_at(requestParameters, 'instanceType') AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  element_at(requestParameters, 'instanceType') AS instance_type,
  json_extract_scalar(element_at(requestParameters, 'instancesSet'), '$.items[0].maxCount') AS max_count,
  coalesce(errorCode, 'launched') AS details
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'ec2.amazonaws.com'
  AND eventName = 'RunInstances'
  AND userIdentity.invokedBy IS NULL
  AND (regexp_like(lower(element_at(requestParameters, 'instanceType')),
                   '^(p[0-9]|g[0-9]|gr[0-9]|inf[0-9]|trn[0-9]|dl[0-9]|f[0-9]|vt[0-9]|u-)')
       OR regexp_like(lower(element_at(requestParameters, 'instanceType')),
                      '\.(metal.*|(2[4-9]|[3-9][0-9]|[1-9][0-9][0-9])xlarge)$'))
