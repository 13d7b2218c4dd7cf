-- Access keys and sessions used by the principal behind the actor (every session of a role).
-- Parameters: $ACTOR_ARN, $PRINCIPAL_ARN, $ACCESS_KEY_ID, $START_TIME, $END_TIME.
SELECT userIdentity.accessKeyId AS access_key_id,
       userIdentity.arn AS session_arn,
       userIdentity.type AS identity_type,
       count(*) AS events,
       approx_distinct(sourceIPAddress) AS source_ips,
       min(eventTime) AS first_seen,
       max(eventTime) AS last_seen
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND (userIdentity.arn = $ACTOR_ARN
       OR userIdentity.accessKeyId = $ACCESS_KEY_ID
       OR userIdentity.sessionContext.sessionIssuer.arn = $PRINCIPAL_ARN
       OR userIdentity.arn = $PRINCIPAL_ARN)
GROUP BY userIdentity.accessKeyId, userIdentity.arn, userIdentity.type
ORDER BY last_seen DESC
LIMIT 200
