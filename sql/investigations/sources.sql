-- Where the actor called from, and with what client.
-- Parameters: $ACTOR_ARN, $ACCESS_KEY_ID, $START_TIME, $END_TIME.
SELECT sourceIPAddress AS source_ip,
       userAgent AS user_agent,
       count(*) AS events,
       count_if(errorCode IS NOT NULL) AS errors,
       min(eventTime) AS first_seen,
       max(eventTime) AS last_seen
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND (userIdentity.arn = $ACTOR_ARN OR userIdentity.accessKeyId = $ACCESS_KEY_ID)
GROUP BY sourceIPAddress, userAgent
ORDER BY events DESC
LIMIT 200
