-- Every call that names $RESOURCE (a trail name or ARN, detector id, bucket, snapshot or image id)
-- in its request, with the part of the request that matters (policy, ACL, sharing, selectors).
-- Parameters: $RESOURCE, $START_TIME, $END_TIME.
SELECT eventTime AS event_time,
       eventSource AS service,
       eventName AS event_name,
       userIdentity.arn AS actor_arn,
       sourceIPAddress AS source_ip,
       awsRegion AS region,
       errorCode AS error_code,
       coalesce(element_at(requestParameters, 'bucketPolicy'), element_at(requestParameters, 'policy'),
                element_at(requestParameters, 'AccessControlPolicy'),
                element_at(requestParameters, 'PublicAccessBlockConfiguration'),
                element_at(requestParameters, 'createVolumePermission'),
                element_at(requestParameters, 'launchPermission'),
                element_at(requestParameters, 'eventSelectors'),
                element_at(requestParameters, 'advancedEventSelectors'),
                element_at(requestParameters, 'LifecycleConfiguration'),
                element_at(requestParameters, 'enable')) AS detail,
       eventID AS event_id
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND (element_at(requestParameters, 'bucketName') = $RESOURCE
       OR element_at(requestParameters, 'trailName') = $RESOURCE
       OR element_at(requestParameters, 'name') = $RESOURCE
       OR element_at(requestParameters, 'name') LIKE concat('%:trail/', $RESOURCE)
       OR element_at(requestParameters, 'detectorId') = $RESOURCE
       OR element_at(requestParameters, 'snapshotId') = $RESOURCE
       OR element_at(requestParameters, 'imageId') = $RESOURCE
       OR element_at(requestParameters, 'dBSnapshotIdentifier') = $RESOURCE)
ORDER BY eventTime
