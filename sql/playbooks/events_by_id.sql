-- The events behind a finding (its evidence event ids), oldest first.
-- Parameters: $EVENT_IDS (array of eventID), $START_TIME, $END_TIME.
SELECT eventTime AS event_time,
       eventSource AS service,
       eventName AS event_name,
       userIdentity.arn AS actor_arn,
       userIdentity.accessKeyId AS access_key_id,
       sourceIPAddress AS source_ip,
       userAgent AS user_agent,
       awsRegion AS region,
       errorCode AS error_code,
       eventID AS event_id
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND contains($EVENT_IDS, eventID)
ORDER BY eventTime
