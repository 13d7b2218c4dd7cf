-- EC2 instance-role sessions (credentials EC2 delivered to an instance: the session is named
-- after the instance id) and the addresses they were used from. The first address a session is
-- seen from in the window is taken as the instance's own (home_ip); every other public address
-- is "outside". Calls through a VPC endpoint and calls AWS services make on the role's behalf
-- are left out. Most outside addresses first: the compromised-instance playbook's candidates.
-- Parameters: $START_TIME, $END_TIME.
WITH calls AS (
  SELECT eventTime, sourceIPAddress, errorCode,
         userIdentity.arn AS actor_arn,
         userIdentity.sessionContext.sessionIssuer.arn AS role_arn,
         userIdentity.sessionContext.sessionIssuer.userName AS role_name,
         recipientAccountId
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND userIdentity.type = 'AssumedRole'
    AND (userIdentity.sessionContext.ec2RoleDelivery IS NOT NULL
         OR regexp_like(userIdentity.principalId, ':i-[0-9a-fA-F]{8,17}$'))
    AND userIdentity.invokedBy IS NULL
    AND vpcEndpointId IS NULL
    AND NOT regexp_like(sourceIPAddress, 'amazonaws\.com$')
),
home AS (
  SELECT actor_arn, min_by(sourceIPAddress, eventTime) AS home_ip
  FROM calls
  GROUP BY actor_arn
)
SELECT c.actor_arn AS actor_arn,
       coalesce(nullif(regexp_extract(c.actor_arn, 'i-[0-9a-fA-F]{8,17}$'), ''), c.actor_arn) AS instance_id,
       arbitrary(c.role_name) AS role_name,
       arbitrary(c.role_arn) AS role_arn,
       arbitrary(c.recipientAccountId) AS account_id,
       arbitrary(h.home_ip) AS home_ip,
       count(DISTINCT CASE WHEN c.sourceIPAddress <> h.home_ip THEN c.sourceIPAddress END) AS outside_ips,
       count_if(c.sourceIPAddress <> h.home_ip) AS outside_events,
       count(*) AS events,
       count_if(c.errorCode IS NOT NULL) AS errors,
       min(c.eventTime) AS first_seen,
       max(c.eventTime) AS last_seen
FROM calls c
JOIN home h ON h.actor_arn = c.actor_arn
GROUP BY c.actor_arn
ORDER BY outside_ips DESC, outside_events DESC, last_seen DESC
LIMIT 25
