/*
id: route53_resolver_query_logging_deleted
title: Route 53 Resolver DNS query logging deleted or detached
description: >-
  A Route 53 Resolver query logging configuration was deleted, or detached from a VPC. DNS
  query logs are how exfiltration over DNS and beaconing to attacker domains are found; removing
  them blinds that view.
severity: high
attack: [T1562.008]
techniques: [aws.defense-evasion.dns-delete-logs]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn, target]
threshold: null
response: null
false_positives:
  - Network teardown of a VPC by the platform team's IaC role (allowlist it).
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
  element_at(requestParameters, 'resolverQueryLogConfigId') AS target,
  coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn,
  element_at(requestParameters, 'resourceId') AS vpc_id
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'route53resolver.amazonaws.com'
  AND eventName IN ('DeleteResolverQueryLogConfig', 'DisassociateResolverQueryLogConfig')
  AND errorCode IS NULL
