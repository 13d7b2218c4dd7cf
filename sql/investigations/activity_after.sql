-- Verification: the actor's calls after containment took effect (should be none, or only denied).
-- Parameters: $ACTOR_ARN, $ACCESS_KEY_ID, $START_TIME, $END_TIME.
SELECT count(*) AS events,
       count_if(errorCode IS NULL) AS succeeded,
       min(eventTime) AS first_seen,
       max(eventTime) AS last_seen
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND (userIdentity.arn = $ACTOR_ARN OR userIdentity.accessKeyId = $ACCESS_KEY_ID)
