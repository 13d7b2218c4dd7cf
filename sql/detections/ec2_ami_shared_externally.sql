/*
id: ec2_ami_shared_externally
title: AMI shared with another account or made public
description: >-
  A principal added launch permission on an AMI (ModifyImageAttribute launchPermission add) for
  another AWS account or for everyone (group all). Anyone with launch permission can start an
  instance from the image and read its disks: sharing an image outside the account is a way to
  exfiltrate a server wholesale. Removing permissions and sharing within the own account are not
  flagged.
severity: high
attack: [T1537]
techniques: [aws.exfiltration.ec2-share-ami]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target, shared_with]
threshold: null
response:
  action: unshare_snapshot_or_image
  params: {resource_id: resource_id}
false_positives:
  - Images deliberately published to partner or organisation accounts (allowlist the publishing role; known_accounts in trailhound.yaml documents them).
runbook: notebooks/tampering_and_exposure.ipynb
*/
WITH shares AS (
  SELECT
    eventID, eventTime, eventName, userIdentity.arn AS arn, userIdentity.type AS utype,
    userIdentity.accessKeyId AS akid, sourceIPAddress, userAgent, recipientAccountId, awsRegion,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    element_at(requestParameters, 'imageId') AS resource_id,
    trim(concat(coalesce(json_extract_scalar(element_at(requestParameters, 'launchPermission'), '$.add.items[0].userId'), ''), ' ', coalesce(json_extract_scalar(element_at(requestParameters, 'launchPermission'), '$.add.items[0].group'), ''), ' ', coalesce(json_extract_scalar(element_at(requestParameters, 'launchPermission'), '$.add.items[1].userId'), ''), ' ', coalesce(json_extract_scalar(element_at(requestParameters, 'launchPermission'), '$.add.items[1].group'), ''), ' ', coalesce(json_extract_scalar(element_at(requestParameters, 'launchPermission'), '$.add.items[2].userId'), ''), ' ', coalesce(json_extract_scalar(element_at(requestParameters, 'launchPermission'), '$.add.items[2].group'), ''), ' ', coalesce(json_extract_scalar(element_at(requestParameters, 'launchPermission'), '$.add.items[3].userId'), ''), ' ', coalesce(json_extract_scalar(element_at(requestParameters, 'launchPermission'), '$.add.items[3].group'), ''), ' ', coalesce(json_extract_scalar(element_at(requestParameters, 'launchPermission'), '$.add.items[4].userId'), ''), ' ', coalesce(json_extract_scalar(element_at(requestParameters, 'launchPermission'), '$.add.items[4].group'), ''))) AS added
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'ec2.amazonaws.com'
    AND eventName = 'ModifyImageAttribute'
    AND errorCode IS NULL
    AND element_at(requestParameters, 'launchPermission') IS NOT NULL
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
