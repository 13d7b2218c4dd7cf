/*
id: ec2_instance_role_discovery_burst
title: Account discovery from an EC2 instance role
description: >-
  An instance-profile session (credentials EC2 delivered to an instance) ran a burst of discovery
  calls across several services: who am I, list the buckets, the users and roles, the account's
  authorization details, snapshots, trails, GuardDuty detectors. Workloads call the few APIs
  their code needs; enumerating the account from an instance is what an intruder does after
  landing on it. Calls of the agents that run on instances (SSM, CloudWatch, logs) are not
  counted.
severity: medium
attack: [T1580, T1087.004, T1619]
techniques: [aws.discovery.ec2-enumerate-from-instance]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn]
threshold: {column: n_apis, min: 5}
response: null
false_positives:
  - A self-hosted CI runner or inventory tool that uses its instance profile to read the account (allowlist its role).
runbook: notebooks/compromised_instance.ipynb
*/
WITH reads AS (
  SELECT
    eventID, eventTime, eventName, eventSource, sourceIPAddress, userAgent, recipientAccountId, awsRegion, errorCode,
    userIdentity.arn AS arn, userIdentity.type AS utype, userIdentity.accessKeyId AS akid,
    userIdentity.sessionContext.sessionIssuer.arn AS role_arn,
    userIdentity.sessionContext.sessionIssuer.userName AS role_name
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND userIdentity.type = 'AssumedRole'
    AND (userIdentity.sessionContext.ec2RoleDelivery IS NOT NULL
         OR regexp_like(userIdentity.principalId, ':i-[0-9a-fA-F]{8,17}$'))
    AND userIdentity.invokedBy IS NULL
    AND readOnly = true
    AND (eventName LIKE 'List%' OR eventName LIKE 'Describe%' OR eventName LIKE 'GetAccount%'
         OR eventName IN ('GetCallerIdentity', 'GetUser', 'GetRole', 'GetPolicy', 'GetPolicyVersion',
                          'GetBucketPolicy', 'GetBucketAcl', 'GetBucketLocation', 'GetDetector'))
    AND eventSource NOT IN ('ssm.amazonaws.com', 'ec2messages.amazonaws.com', 'ssmmessages.amazonaws.com',
                            'logs.amazonaws.com', 'monitoring.amazonaws.com', 'xray.amazonaws.com',
                            'ecs.amazonaws.com', 'ecr.amazonaws.com', 'codedeploy.amazonaws.com')
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
  arbitrary(awsRegion) AS region,
  array_join(array_sort(array_agg(DISTINCT eventName)), ',') AS event_name,
  coalesce(nullif(regexp_extract(arn, 'i-[0-9a-fA-F]{8,17}$'), ''), arn) AS target,
  arbitrary(role_arn) AS principal_arn,
  arbitrary(role_name) AS role_name,
  coalesce(nullif(regexp_extract(arn, 'i-[0-9a-fA-F]{8,17}$'), ''), arn) AS instance_id,
  count(DISTINCT eventName) AS n_apis,
  count(DISTINCT eventSource) AS n_services,
  count_if(errorCode IS NOT NULL) AS n_errors
FROM reads
GROUP BY arn, recipientAccountId
HAVING count(DISTINCT eventName) >= $THRESHOLD AND count(DISTINCT eventSource) >= 3
