-- Every principal's calls per minute by service and region, with errors: the window's charts.
-- Parameters: $START_TIME, $END_TIME.
SELECT date_trunc('minute', eventTime) AS minute,
       eventSource AS service,
       awsRegion AS region,
       count(*) AS events,
       count_if(errorCode IS NOT NULL) AS errors
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
GROUP BY date_trunc('minute', eventTime), eventSource, awsRegion
ORDER BY minute
