-- The actor's activity by service and region: volume, errors, distinct APIs, first and last call.
-- Parameters: $ACTOR_ARN, $ACCESS_KEY_ID, $START_TIME, $END_TIME.
SELECT eventSource AS service,
       awsRegion AS region,
       count(*) AS events,
       count_if(errorCode IS NOT NULL) AS errors,
       approx_distinct(eventName) AS distinct_apis,
       min(eventTime) AS first_seen,
       max(eventTime) AS last_seen
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND (userIdentity.arn = $ACTOR_ARN OR userIdentity.accessKeyId = $ACCESS_KEY_ID)
GROUP BY eventSource, awsRegion
ORDER BY events DESC
LIMIT 200
