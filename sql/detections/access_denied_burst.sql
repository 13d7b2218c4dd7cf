/*
id: access_denied_burst
title: Burst of access-denied errors across many APIs from one principal
description: >-
  One principal collected many AccessDenied / UnauthorizedOperation errors on many different
  APIs in the window, outside the console. This is what stolen credentials look like while the
  attacker probes what they are allowed to do (enumeration tools call everything and keep what
  works). Ordinary permission mistakes produce one or two errors on the same call; console
  browsing (pages calling APIs the user lacks) and calls AWS services make on a principal's
  behalf are not counted.
severity: medium
attack: [T1078.004, T1069.003, T1580]
techniques: []
schedule: 15m
lookback: 1h
dedup_key: [actor_arn]
threshold: {column: n_errors, min: 10}
response:                           # an IAM user's key; a role session has no user_name: notify only
  action: deactivate_access_key
  params: {user_name: user_name, access_key_id: access_key_id}
false_positives:
  - A misconfigured deployment whose role lost permissions (many errors, but on the calls it always makes; check event_name).
  - Security scanners and CSPM tools running with partial read permissions (allowlist their role).
runbook: notebooks/compromised_credentials.ipynb
*/
WITH denied AS (
  SELECT
    eventID, eventTime, eventName, eventSource, awsRegion, sourceIPAddress, userAgent, recipientAccountId,
    userIdentity.arn AS arn, userIdentity.type AS utype, userIdentity.accessKeyId AS akid,
    userIdentity.userName AS user_name, userIdentity.sessionContext.sessionIssuer.userName AS role_name,
    coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn) AS principal_arn
  FROM $EDS_ID
  WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
    AND errorCode IS NOT NULL
    AND (errorCode IN ('AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation',
                       'Client.UnauthorizedOperation', 'UnauthorizedAccess', 'AuthorizationError',
                       'AuthorizationErrorException', 'NotAuthorized', 'Forbidden', 'ForbiddenException',
                       'Client.AccessDenied', 'UnauthorizedException')
         OR regexp_like(errorCode, '^(Client\.)?(AccessDenied|Unauthorized)'))
    AND userIdentity.invokedBy IS NULL
    AND coalesce(sessionCredentialFromConsole, 'false') <> 'true'
    AND NOT regexp_like(sourceIPAddress, 'amazonaws\.com$')
)
SELECT
  array_agg(eventID) AS event_ids,
  min(eventTime) AS first_seen,
  max(eventTime) AS last_seen,
  arn AS actor_arn,
  arbitrary(utype) AS actor_type,
  max_by(akid, eventTime) AS access_key_id,
  max_by(sourceIPAddress, eventTime) AS source_ip,
  max_by(userAgent, eventTime) AS user_agent,
  recipientAccountId AS account_id,
  array_join(array_sort(array_agg(DISTINCT awsRegion)), ',') AS region,
  array_join(array_sort(array_agg(DISTINCT eventName)), ',') AS event_name,
  array_join(array_sort(array_agg(DISTINCT eventSource)), ',') AS target,
  arbitrary(principal_arn) AS principal_arn,
  arbitrary(user_name) AS user_name,
  arbitrary(role_name) AS role_name,
  count(*) AS n_errors,
  count(DISTINCT eventName) AS n_apis,
  count(DISTINCT eventSource) AS n_services,
  count(DISTINCT sourceIPAddress) AS n_source_ips
FROM denied
GROUP BY arn, recipientAccountId
HAVING count(*) >= $THRESHOLD AND count(DISTINCT eventName) >= 5
