/*
id: ec2_ami_deregistered
title: AMI deregistered
description: >-
  A principal deregistered an AMI. Images are the recovery point for golden builds and backups;
  an intruder deregisters them to hinder recovery (often with the backing snapshots). Image
  pipelines retire old AMIs routinely, so a single deregistration is a low-severity record; many
  in a short time is ec2_ami_mass_deregistration. AWS services (lifecycle policies) are not flagged.
severity: low
attack: [T1485]
techniques: [aws.impact.ec2-deregister-ami]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response: null
false_positives:
  - Image pipelines and IaC teardowns retiring AMIs (allowlist their role).
runbook: notebooks/open_finding.ipynb
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
  element_at(requestParameters, 'imageId') AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  coalesce(element_at(requestParameters, 'deleteAssociatedSnapshots'), 'false') AS snapshots_deleted
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'ec2.amazonaws.com'
  AND eventName = 'DeregisterImage'
  AND errorCode IS NULL
  AND userIdentity.invokedBy IS NULL
  AND NOT regexp_like(sourceIPAddress, 'amazonaws\.com$')
