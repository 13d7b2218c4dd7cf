/*
id: ec2_snapshot_shared_externally
title: EBS snapshot shared with another account or made public
description: >-
  A principal added create-volume permission on an EBS snapshot (ModifySnapshotAttribute
  createVolumePermission add) for another AWS account or for everyone (group all). The other
  account can create a volume from it and read the disk: a one-call exfiltration of a server's
  data. Removing permissions and sharing within the own account are not flagged.
severity: high
attack: [T1537]
techniques: [aws.exfiltration.ec2-share-ebs-snapshot]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target, shared_with]
threshold: null
response:
  action: unshare_snapshot_or_image
  params: {resource_id: resource_id}
false_positives:
  - Snapshots copied to a backup or disaster-recovery account by a backup role (allowlist it).
runbook: notebooks/tampering_and_exposure.ipynb
*/
WITH shares AS (
  SELECT
    eventID, eventTime, eventName, userIdentity.arn AS arn, userIdentity.type AS utype,
    userIdentity.accessKeyId AS akid, sourceIPAddress, userAgent, recipientAccountId, awsRegion,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    element_at(requestParameters, 'snapshotId') AS resource_id,
    trim(concat(coalesce(json_extract_scalar(element_at(requestParameters, 'createVolumePermission'), '$.add.items[0].userId'), ''), ' ', coalesce(json_extract_scalar(element_at(requestParameters, 'createVolumePermission'), '$.add.items[0].group'), ''), ' ', coalesce(json_extract_scalar(element_at(requestParameters, 'createVolumePermission'), '$.add.items[1].userId'), ''), ' ', coalesce(json_extract_scalar(element_at(requestParameters, 'createVolumePermission'), '$.add.items[1].group'), ''), ' ', coalesce(json_extract_scalar(element_at(requestParameters, 'createVolumePermission'), '$.add.items[2].userId'), ''), ' ', coalesce(json_extract_scalar(element_at(requestParameters, 'createVolumePermission'), '$.add.items[2].group'), ''), ' ', coalesce(json_extract_scalar(element_at(requestParameters, 'createVolumePermission'), '$.add.items[3].userId'), ''), ' ', coalesce(json_extract_scalar(element_at(requestParameters, 'createVolumePermission'), '$.add.items[3].group'), ''), ' ', coalesce(json_extract_scalar(element_at(requestParameters, 'createVolumePermission'), '$.add.items[4].userId'), ''), ' ', coalesce(json_extract_scalar(element_at(requestParameters, 'createVolumePermission'), '$.add.items[4].group'), ''))) AS added
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'ec2.amazonaws.com'
    AND eventName = 'ModifySnapshotAttribute'
    AND errorCode IS NULL
    AND element_at(requestParameters, 'createVolumePermission') IS NOT NULL
)
SELECT
  ARRAY[eventID] AS event_ids,
  eventTime AS first_seen,
  eventTime AS last_seen,
  arn AS actor_arn,
  utype AS actor_type,
  akid AS access_key_id,
  sourceIPAddress AS source_ip,
  userAgent AS user_agent,
  recipientAccountId AS account_id,
  awsRegion AS region,
  eventName AS event_name,
  resource_id AS target,
  principal_arn AS principal_arn,
  resource_id AS resource_id,
  regexp_replace(added, ' +', ' ') AS shared_with
FROM shares
WHERE regexp_like(replace(added, recipientAccountId, ''), '[0-9]{12}|(^| )all( |$)')
