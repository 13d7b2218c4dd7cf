-- What the actor created or changed: successful mutating calls, newest first.
-- Parameters: $ACTOR_ARN, $ACCESS_KEY_ID, $START_TIME, $END_TIME.
SELECT eventTime AS event_time,
       eventSource AS service,
       eventName AS event_name,
       awsRegion AS region,
       coalesce(element_at(requestParameters, 'userName'), element_at(requestParameters, 'roleName'),
                element_at(requestParameters, 'bucketName'), element_at(requestParameters, 'name'),
                element_at(requestParameters, 'functionName'), element_at(requestParameters, 'groupId'),
                element_at(requestParameters, 'instanceId'), element_at(requestParameters, 'snapshotId'),
                element_at(requestParameters, 'imageId'), element_at(requestParameters, 'keyId'),
                element_at(requestParameters, 'policyArn'), element_at(requestParameters, 'secretId')) AS target,
       eventID AS event_id
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND (userIdentity.arn = $ACTOR_ARN OR userIdentity.accessKeyId = $ACCESS_KEY_ID)
  AND readOnly = false
  AND errorCode IS NULL
ORDER BY eventTime DESC
LIMIT 200
