/*
id: ec2_instance_credentials_used_outside_instance
title: EC2 instance-role credentials used from outside their instance
description: >-
  Temporary credentials that EC2 delivered to an instance (an instance-profile session, named
  after the instance id, with ec2RoleDelivery set) were used from a source address that is not
  the instance's: either the same access key was seen from a second public address in the window
  (the first one being the instance's own), or the address is one that people use in the window
  (IAM users, root, federated users, Identity Center sessions), i.e. the credentials were copied
  off the instance (metadata service, SSRF, SSM command output) and replayed from the attacker's
  machine. Calls through a VPC endpoint and calls made by AWS services on the role's behalf are
  ignored; so are workloads (Lambda, ECS) that share the instances' NAT gateway.
severity: high
attack: [T1552.005, T1078.004]
techniques: [aws.credential-access.ec2-steal-instance-credentials]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, source_ip]
threshold: null
response:
  action: revoke_role_sessions
  params: {role_name: role_name}
false_positives:
  - A person running commands on a bastion instance with their own credentials as well as the instance's (same egress address).
  - An instance whose egress address changes while the same credentials are valid (Elastic IP moved, dual-stack IPv4/IPv6 egress).
runbook: notebooks/compromised_instance.ipynb
*/
WITH instance_calls AS (
  SELECT
    eventID, eventTime, eventName, sourceIPAddress, userAgent, awsRegion, recipientAccountId,
    userIdentity.arn AS arn, userIdentity.type AS utype, userIdentity.accessKeyId AS akid,
    userIdentity.sessionContext.sessionIssuer.arn AS role_arn,
    userIdentity.sessionContext.sessionIssuer.userName AS role_name
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND userIdentity.type = 'AssumedRole'
    AND (userIdentity.sessionContext.ec2RoleDelivery IS NOT NULL
         OR regexp_like(userIdentity.principalId, ':i-[0-9a-fA-F]{8,17}$'))
    AND userIdentity.invokedBy IS NULL
    AND vpcEndpointId IS NULL
    AND (regexp_like(sourceIPAddress, '^[0-9]{1,3}(\.[0-9]{1,3}){3}$')
         OR regexp_like(sourceIPAddress, '^[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){2,7}$'))
),
home AS (
  SELECT akid, min_by(sourceIPAddress, eventTime) AS home_ip
  FROM instance_calls
  GROUP BY akid
),
people_ips AS (
  SELECT DISTINCT sourceIPAddress AS ip
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND userIdentity.invokedBy IS NULL
    AND (userIdentity.type IN ('IAMUser', 'Root', 'FederatedUser', 'IdentityCenterUser')
         OR strpos(userIdentity.sessionContext.sessionIssuer.arn, ':role/aws-reserved/sso.amazonaws.com/') > 0)
)
SELECT
  array_agg(c.eventID) AS event_ids,
  min(c.eventTime) AS first_seen,
  max(c.eventTime) AS last_seen,
  c.arn AS actor_arn,
  arbitrary(c.utype) AS actor_type,
  c.akid AS access_key_id,
  c.sourceIPAddress AS source_ip,
  max_by(c.userAgent, c.eventTime) AS user_agent,
  c.recipientAccountId AS account_id,
  arbitrary(c.awsRegion) AS region,
  array_join(array_sort(array_agg(DISTINCT c.eventName)), ',') AS event_name,
  coalesce(nullif(regexp_extract(c.arn, 'i-[0-9a-fA-F]{8,17}$'), ''), c.arn) AS target,
  arbitrary(c.role_arn) AS principal_arn,
  arbitrary(c.role_name) AS role_name,
  coalesce(nullif(regexp_extract(c.arn, 'i-[0-9a-fA-F]{8,17}$'), ''), c.arn) AS instance_id,
  arbitrary(h.home_ip) AS instance_ip,
  CASE WHEN max(p.ip) IS NOT NULL THEN 'address also used by people (users, federated or SSO sessions)'
       ELSE 'second address for the same instance credentials' END AS details,
  count(*) AS n_events
FROM instance_calls c
JOIN home h ON h.akid = c.akid
LEFT JOIN people_ips p ON p.ip = c.sourceIPAddress
WHERE c.sourceIPAddress <> h.home_ip OR p.ip IS NOT NULL
GROUP BY c.arn, c.akid, c.sourceIPAddress, c.recipientAccountId
