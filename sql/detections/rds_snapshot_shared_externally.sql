/*
id: rds_snapshot_shared_externally
title: RDS snapshot shared with another account or made public
description: >-
  A principal added restore permission on an RDS DB or cluster snapshot (ModifyDBSnapshotAttribute
  / ModifyDBClusterSnapshotAttribute, attribute restore, valuesToAdd) for another AWS account or
  for everyone (all). The other account can restore the whole database from it. Removing
  permissions and adding the own account are not flagged.
severity: high
attack: [T1537]
techniques: [aws.exfiltration.rds-share-snapshot]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target, shared_with]
threshold: null
response:
  action: unshare_snapshot_or_image
  params: {resource_id: resource_id}
false_positives:
  - Snapshots shared with a backup or analytics account by a known role (allowlist it).
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
  coalesce(element_at(requestParameters, 'dBSnapshotIdentifier'),
           element_at(requestParameters, 'dBClusterSnapshotIdentifier')) AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  coalesce(element_at(requestParameters, 'dBSnapshotIdentifier'),
           element_at(requestParameters, 'dBClusterSnapshotIdentifier')) AS resource_id,
  element_at(requestParameters, 'valuesToAdd') AS shared_with
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'rds.amazonaws.com'
  AND eventName IN ('ModifyDBSnapshotAttribute', 'ModifyDBClusterSnapshotAttribute')
  AND errorCode IS NULL
  AND lower(element_at(requestParameters, 'attributeName')) = 'restore'
  AND regexp_like(replace(coalesce(element_at(requestParameters, 'valuesToAdd'), ''), recipientAccountId, ''),
                  '[0-9]{12}|"all"')
