/*
id: ec2_ami_mass_deregistration
title: Many AMIs deregistered by one principal
description: >-
  One principal deregistered several AMIs in the window. Deleting the images a team rebuilds
  and restores from, in bulk, is destruction of recovery points, typically ahead of or during
  an extortion attempt. AWS services (lifecycle policies) are not counted.
severity: high
attack: [T1485, T1490]
techniques: [aws.impact.ec2-deregister-ami]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, region]
threshold: {column: n_images, min: 3}
response: null
false_positives:
  - An image pipeline's clean-up run retiring several old AMIs at once (allowlist its role).
runbook: notebooks/compromised_credentials.ipynb
*/
SELECT
  array_agg(eventID) AS event_ids,
  min(eventTime) AS first_seen,
  max(eventTime) AS last_seen,
  userIdentity.arn AS actor_arn,
  arbitrary(userIdentity.type) AS actor_type,
  max_by(userIdentity.accessKeyId, eventTime) AS access_key_id,
  max_by(sourceIPAddress, eventTime) AS source_ip,
  max_by(userAgent, eventTime) AS user_agent,
  recipientAccountId AS account_id,
  awsRegion AS region,
  'DeregisterImage' AS event_name,
  array_join(array_sort(array_agg(DISTINCT element_at(requestParameters, 'imageId'))), ',') AS target,
  arbitrary(coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn)) AS principal_arn,
  count(DISTINCT element_at(requestParameters, 'imageId')) AS n_images
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'ec2.amazonaws.com'
  AND eventName = 'DeregisterImage'
  AND errorCode IS NULL
  AND userIdentity.invokedBy IS NULL
  AND NOT regexp_like(sourceIPAddress, 'amazonaws\.com$')
GROUP BY userIdentity.arn, recipientAccountId, awsRegion
HAVING count(DISTINCT element_at(requestParameters, 'imageId')) >= $THRESHOLD
