-- The actor's calls per 5 minutes by service (for charts).
-- Parameters: $ACTOR_ARN, $ACCESS_KEY_ID, $START_TIME, $END_TIME.
SELECT date_trunc('minute', eventTime) AS minute,
       eventSource AS service,
       awsRegion AS region,
       count(*) AS events,
       count_if(errorCode IS NOT NULL) AS errors
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND (userIdentity.arn = $ACTOR_ARN OR userIdentity.accessKeyId = $ACCESS_KEY_ID)
GROUP BY date_trunc('minute', eventTime), eventSource, awsRegion
ORDER BY minute
