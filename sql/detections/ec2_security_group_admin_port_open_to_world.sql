/*
id: ec2_security_group_admin_port_open_to_world
title: SSH, RDP or all ports opened to the whole internet on a security group
description: >-
  A security group ingress rule was added that accepts traffic from any address (0.0.0.0/0 or
  ::/0, or any /0 range) to SSH (22), RDP (3389), or to all ports and protocols. This exposes
  instance management ports to internet-wide scanning and brute force; it is also how an
  intruder opens a path back in. Rules from a private range are not flagged; world-open rules on
  other ports are the low-severity ec2_security_group_opened_to_world.
severity: high
attack: [T1562.007]
techniques: [aws.exfiltration.ec2-security-group-open-port-22-ingress]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response:
  action: revoke_open_ingress
  params: {group_id: group_id}
false_positives:
  - A deliberately public bastion host (prefer EC2 Instance Connect Endpoint or SSM; otherwise allowlist the group's owner role).
runbook: notebooks/tampering_and_exposure.ipynb
*/
WITH calls AS (
  SELECT
    eventID, eventTime, eventName, userIdentity.arn AS arn, userIdentity.type AS utype,
    userIdentity.accessKeyId AS akid, sourceIPAddress, userAgent, recipientAccountId, awsRegion,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
    coalesce(element_at(requestParameters, 'groupId'), element_at(requestParameters, 'groupName')) AS group_id,
    element_at(requestParameters, 'ipPermissions') AS perms,
    element_at(requestParameters, 'cidrIp') AS top_cidr,
    element_at(requestParameters, 'ipProtocol') AS top_proto,
    element_at(requestParameters, 'fromPort') AS top_from,
    element_at(requestParameters, 'toPort') AS top_to
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 'ec2.amazonaws.com'
    AND eventName = 'AuthorizeSecurityGroupIngress'
    AND errorCode IS NULL
),
rules AS (
  SELECT eventID, lower(top_proto) AS proto, try_cast(top_from AS integer) AS from_port,
    try_cast(top_to AS integer) AS to_port, top_cidr AS cidrs
  FROM calls WHERE top_cidr IS NOT NULL
  UNION ALL
  SELECT eventID,
    lower(json_extract_scalar(perms, '$.items[0].ipProtocol')) AS proto,
    try_cast(json_extract_scalar(perms, '$.items[0].fromPort') AS integer) AS from_port,
    try_cast(json_extract_scalar(perms, '$.items[0].toPort') AS integer) AS to_port,
    concat(coalesce(json_extract_scalar(perms, '$.items[0].ipRanges.items[0].cidrIp'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[0].ipv6Ranges.items[0].cidrIpv6'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[0].ipRanges.items[1].cidrIp'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[0].ipv6Ranges.items[1].cidrIpv6'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[0].ipRanges.items[2].cidrIp'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[0].ipv6Ranges.items[2].cidrIpv6'), '')) AS cidrs
  FROM calls WHERE json_extract_scalar(perms, '$.items[0].ipProtocol') IS NOT NULL
  UNION ALL
  SELECT eventID,
    lower(json_extract_scalar(perms, '$.items[1].ipProtocol')) AS proto,
    try_cast(json_extract_scalar(perms, '$.items[1].fromPort') AS integer) AS from_port,
    try_cast(json_extract_scalar(perms, '$.items[1].toPort') AS integer) AS to_port,
    concat(coalesce(json_extract_scalar(perms, '$.items[1].ipRanges.items[0].cidrIp'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[1].ipv6Ranges.items[0].cidrIpv6'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[1].ipRanges.items[1].cidrIp'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[1].ipv6Ranges.items[1].cidrIpv6'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[1].ipRanges.items[2].cidrIp'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[1].ipv6Ranges.items[2].cidrIpv6'), '')) AS cidrs
  FROM calls WHERE json_extract_scalar(perms, '$.items[1].ipProtocol') IS NOT NULL
  UNION ALL
  SELECT eventID,
    lower(json_extract_scalar(perms, '$.items[2].ipProtocol')) AS proto,
    try_cast(json_extract_scalar(perms, '$.items[2].fromPort') AS integer) AS from_port,
    try_cast(json_extract_scalar(perms, '$.items[2].toPort') AS integer) AS to_port,
    concat(coalesce(json_extract_scalar(perms, '$.items[2].ipRanges.items[0].cidrIp'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[2].ipv6Ranges.items[0].cidrIpv6'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[2].ipRanges.items[1].cidrIp'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[2].ipv6Ranges.items[1].cidrIpv6'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[2].ipRanges.items[2].cidrIp'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[2].ipv6Ranges.items[2].cidrIpv6'), '')) AS cidrs
  FROM calls WHERE json_extract_scalar(perms, '$.items[2].ipProtocol') IS NOT NULL
  UNION ALL
  SELECT eventID,
    lower(json_extract_scalar(perms, '$.items[3].ipProtocol')) AS proto,
    try_cast(json_extract_scalar(perms, '$.items[3].fromPort') AS integer) AS from_port,
    try_cast(json_extract_scalar(perms, '$.items[3].toPort') AS integer) AS to_port,
    concat(coalesce(json_extract_scalar(perms, '$.items[3].ipRanges.items[0].cidrIp'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[3].ipv6Ranges.items[0].cidrIpv6'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[3].ipRanges.items[1].cidrIp'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[3].ipv6Ranges.items[1].cidrIpv6'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[3].ipRanges.items[2].cidrIp'), ''), ' ', coalesce(json_extract_scalar(perms, '$.items[3].ipv6Ranges.items[2].cidrIpv6'), '')) AS cidrs
  FROM calls WHERE json_extract_scalar(perms, '$.items[3].ipProtocol') IS NOT NULL
),
flags AS (
  SELECT
    eventID,
    count_if(regexp_like(cidrs, '/0( |$)')) AS n_world_rules,
    count_if(regexp_like(cidrs, '/0( |$)')
             AND (proto IN ('-1', 'all')
                  OR (proto IN ('tcp', '6', 'udp', '17')
                      AND ((from_port <= 22 AND to_port >= 22) OR (from_port <= 3389 AND to_port >= 3389))))
    ) AS n_admin_world_rules,
    array_join(array_sort(array_agg(DISTINCT concat(coalesce(proto, '?'), ':',
      coalesce(CAST(from_port AS varchar), '*'), '-', coalesce(CAST(to_port AS varchar), '*')))), ',') AS port_ranges
  FROM rules
  GROUP BY eventID
)
SELECT
  ARRAY[c.eventID] AS event_ids,
  c.eventTime AS first_seen,
  c.eventTime AS last_seen,
  c.arn AS actor_arn,
  c.utype AS actor_type,
  c.akid AS access_key_id,
  c.sourceIPAddress AS source_ip,
  c.userAgent AS user_agent,
  c.recipientAccountId AS account_id,
  c.awsRegion AS region,
  c.eventName AS event_name,
  c.group_id AS target,
  c.principal_arn AS principal_arn,
  c.group_id AS group_id,
  f.port_ranges AS details
FROM calls c
JOIN flags f ON f.eventID = c.eventID
WHERE f.n_admin_world_rules > 0
