/*
id: ses_enumeration
title: SES sending capability enumerated programmatically
description: >-
  A principal queried, outside the console, several of the calls that tell whether an account can
  send e-mail: whether sending is enabled, the send quota and statistics, the verified identities
  and their verification status. Stolen keys are routinely checked this way before they are used
  or sold for phishing and spam. Applications that send mail do not enumerate their own
  identities and quotas.
severity: medium
attack: [T1526, T1580]
techniques: [aws.discovery.ses-enumerate]
schedule: 15m
lookback: 1h
dedup_key: [actor_arn]
threshold: {column: n_apis, min: 3}
response: null
false_positives:
  - A monitoring job that reads SES quotas and identity status (allowlist its role).
runbook: notebooks/compromised_credentials.ipynb
*/
SELECT
  array_agg(eventID) AS event_ids,
  min(eventTime) AS first_seen,
  max(eventTime) AS last_seen,
  userIdentity.arn AS actor_arn,
  arbitrary(userIdentity.type) AS actor_type,
  max_by(userIdentity.accessKeyId, eventTime) AS access_key_id,
  max_by(sourceIPAddress, eventTime) AS source_ip,
  max_by(userAgent, eventTime) AS user_agent,
  recipientAccountId AS account_id,
  array_join(array_sort(array_agg(DISTINCT awsRegion)), ',') AS region,
  array_join(array_sort(array_agg(DISTINCT eventName)), ',') AS event_name,
  'ses' AS target,
  arbitrary(coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn)) AS principal_arn,
  count(DISTINCT eventName) AS n_apis,
  count(DISTINCT awsRegion) AS n_regions,
  count(*) AS n_events
FROM $EDS_ID
WHERE eventTime >= $START_TIME AND eventTime < $END_TIME
  AND eventSource = 'ses.amazonaws.com'
  AND eventName IN ('GetAccountSendingEnabled', 'GetSendQuota', 'GetSendStatistics', 'ListIdentities',
                    'GetIdentityVerificationAttributes', 'ListVerifiedEmailAddresses', 'GetAccount',
                    'ListEmailIdentities', 'GetEmailIdentity', 'GetIdentityDkimAttributes')
  AND userIdentity.invokedBy IS NULL
  AND coalesce(sessionCredentialFromConsole, 'false') <> 'true'
GROUP BY userIdentity.arn, recipientAccountId
HAVING count(DISTINCT eventName) >= $THRESHOLD
