/*
id: rolesanywhere_trust_anchor_created
title: IAM Roles Anywhere trust anchor or profile created
description: >-
  A Roles Anywhere trust anchor (a certificate authority AWS will trust) or profile (the roles it
  hands out) was created or re-pointed. Anyone holding a certificate from that CA can then get
  credentials for the profile's roles from outside AWS: persistence that needs no IAM user or key.
severity: medium
attack: [T1098, T1556]
techniques: [aws.persistence.rolesanywhere-create-trust-anchor]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, event_name, target]
threshold: null
response: null
false_positives:
  - On-premises workloads onboarded to Roles Anywhere by the platform team (allowlist its role).
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
  coalesce(element_at(requestParameters, 'name'), element_at(requestParameters, 'trustAnchorId'), element_at(requestParameters, 'profileId')) AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  element_at(requestParameters, 'roleArns') AS details
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'rolesanywhere.amazonaws.com'
  AND eventName IN ('CreateTrustAnchor', 'UpdateTrustAnchor', 'CreateProfile', 'UpdateProfile')
  AND errorCode IS NULL
