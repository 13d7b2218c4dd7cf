-- Access keys the actor created (for itself or, worse, for other users): the attacker's way to
-- keep access after the key it stole is deactivated. Each must be contained with the actor.
-- Parameters: $ACTOR_ARN, $ACCESS_KEY_ID, $START_TIME, $END_TIME.
SELECT eventTime AS event_time,
       coalesce(element_at(requestParameters, 'userName'), userIdentity.userName) AS user_name,
       json_extract_scalar(element_at(responseElements, 'accessKey'), '$.accessKeyId') AS access_key_id,
       sourceIPAddress AS source_ip,
       eventID AS event_id
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'iam.amazonaws.com'
  AND eventName = 'CreateAccessKey'
  AND errorCode IS NULL
  AND (userIdentity.arn = $ACTOR_ARN OR userIdentity.accessKeyId = $ACCESS_KEY_ID)
ORDER BY eventTime
