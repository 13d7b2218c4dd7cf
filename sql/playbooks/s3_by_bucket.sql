-- The actor's S3 calls by bucket: listings, reads, writes, who owns the bucket, and whether the
-- bucket is familiar (other principals of the account use it in the window, or the actor used it
-- from $HOME_IP, e.g. the instance's own address). An unfamiliar or foreign bucket that receives
-- writes is where data went. Parameters: $ACTOR_ARN, $HOME_IP, $START_TIME, $END_TIME.
WITH s3 AS (
  SELECT eventTime, eventName, errorCode, sourceIPAddress, recipientAccountId,
         userIdentity.arn AS arn,
         element_at(requestParameters, 'bucketName') AS bucket,
         CASE WHEN resources[1].type = 'AWS::S3::Bucket' THEN resources[1].accountId
              WHEN resources[2].type = 'AWS::S3::Bucket' THEN resources[2].accountId END AS bucket_owner
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND eventSource = 's3.amazonaws.com'
),
others AS (
  SELECT DISTINCT bucket FROM s3 WHERE arn <> $ACTOR_ARN AND bucket IS NOT NULL
)
SELECT coalesce(m.bucket, '(all buckets)') AS bucket,
       count(*) AS events,
       count_if(m.eventName IN ('ListBuckets', 'ListObjects', 'ListObjectsV2', 'ListObjectVersions')) AS listings,
       count_if(m.eventName IN ('GetObject', 'HeadObject', 'GetObjectAttributes')) AS reads,
       count_if(m.eventName IN ('PutObject', 'CopyObject', 'CreateMultipartUpload', 'UploadPart',
                                'CompleteMultipartUpload', 'DeleteObject', 'DeleteObjects')) AS writes,
       count_if(m.errorCode IS NOT NULL) AS errors,
       arbitrary(m.bucket_owner) AS bucket_owner,
       arbitrary(m.recipientAccountId) AS account_id,
       max(o.bucket) IS NOT NULL AS used_by_others,
       count_if(m.sourceIPAddress = $HOME_IP) AS from_home,
       count(DISTINCT m.sourceIPAddress) AS source_ips,
       min(m.eventTime) AS first_seen,
       max(m.eventTime) AS last_seen
FROM s3 m
LEFT JOIN others o ON o.bucket = m.bucket
WHERE m.arn = $ACTOR_ARN
GROUP BY m.bucket
ORDER BY writes DESC, events DESC
LIMIT 200
