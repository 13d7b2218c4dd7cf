-- Principals failing authorization in the window (AccessDenied / Unauthorized errors), most first:
-- the candidates of the compromised-credentials playbook when no actor is given. Console
-- browsing and calls AWS services make on a principal's behalf are left out.
-- Parameters: $START_TIME, $END_TIME.
SELECT userIdentity.arn AS actor_arn,
       arbitrary(userIdentity.type) AS actor_type,
       max_by(userIdentity.accessKeyId, eventTime) AS access_key_id,
       arbitrary(coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn)) AS principal_arn,
       count(*) AS denied,
       count(DISTINCT eventName) AS apis,
       count(DISTINCT eventSource) AS services,
       count(DISTINCT sourceIPAddress) AS source_ips,
       max_by(sourceIPAddress, eventTime) AS last_source_ip,
       min(eventTime) AS first_seen,
       max(eventTime) AS last_seen
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND userIdentity.arn IS NOT NULL
  AND userIdentity.invokedBy IS NULL
  AND coalesce(sessionCredentialFromConsole, 'false') <> 'true'
  AND NOT regexp_like(sourceIPAddress, 'amazonaws\.com$')
  AND (errorCode IN ('AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation',
                     'Client.UnauthorizedOperation', 'UnauthorizedAccess', 'AuthorizationError',
                     'AuthorizationErrorException', 'NotAuthorized', 'Forbidden', 'ForbiddenException',
                     'Client.AccessDenied', 'UnauthorizedException')
       OR regexp_like(errorCode, '^(Client\.)?(AccessDenied|Unauthorized)'))
GROUP BY userIdentity.arn
ORDER BY denied DESC, apis DESC, last_seen DESC
LIMIT 25
