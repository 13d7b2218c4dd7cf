/*
id: activity_in_unused_region
title: Resources changed in a region the account had not been using
description: >-
  Successful write calls were made in a region where the account had no activity at all in the
  14 days before the window, while it was active elsewhere (the region first appears at least an
  hour after the account's earliest event in that span). Attackers deploy miners, relays and
  backdoors in regions nobody watches. The history comes from the event store itself, so the
  detection needs at least an hour of history and looks 14 days back; global services that
  always log in us-east-1 (IAM, STS, sign-in, Organizations, CloudFront, Route 53, billing) are
  ignored, as are calls AWS services make.
severity: medium
attack: [T1535]
techniques: []
schedule: 1h
lookback: 1h
dedup_key: [actor_arn, region]
threshold: null
response: null
false_positives:
  - A team expanding into a new region (the first deployment there raises this once; allowlist the IaC role for that period).
runbook: notebooks/compromised_credentials.ipynb
*/
WITH history AS (
  SELECT recipientAccountId AS account, awsRegion AS region, min(eventTime) AS region_first_seen
  FROM $EDS_ID
  WHERE eventTime >= date_add('day', -14, $START_TIME) AND eventTime < $END_TIME
    AND eventSource NOT IN ('iam.amazonaws.com', 'sts.amazonaws.com', 'signin.amazonaws.com',
                            'organizations.amazonaws.com', 'cloudfront.amazonaws.com', 'route53.amazonaws.com',
                            'route53domains.amazonaws.com', 'health.amazonaws.com', 'support.amazonaws.com',
                            'trustedadvisor.amazonaws.com', 'ce.amazonaws.com', 'billingconsole.amazonaws.com',
                            'account.amazonaws.com', 'budgets.amazonaws.com', 'globalaccelerator.amazonaws.com',
                            'shield.amazonaws.com', 'notifications.amazonaws.com', 'sso.amazonaws.com',
                            'servicequotas.amazonaws.com', 'resource-explorer-2.amazonaws.com')
  GROUP BY recipientAccountId, awsRegion
),
account_start AS (
  SELECT account, min(region_first_seen) AS account_first_seen FROM history GROUP BY account
),
new_regions AS (
  SELECT h.account, h.region, h.region_first_seen
  FROM history h
  JOIN account_start a ON a.account = h.account
  WHERE h.region_first_seen >= $START_TIME
    AND h.region_first_seen >= date_add('hour', 1, a.account_first_seen)
)
SELECT
  array_agg(e.eventID) AS event_ids,
  min(e.eventTime) AS first_seen,
  max(e.eventTime) AS last_seen,
  e.userIdentity.arn AS actor_arn,
  arbitrary(e.userIdentity.type) AS actor_type,
  max_by(e.userIdentity.accessKeyId, e.eventTime) AS access_key_id,
  max_by(e.sourceIPAddress, e.eventTime) AS source_ip,
  max_by(e.userAgent, e.eventTime) AS user_agent,
  e.recipientAccountId AS account_id,
  e.awsRegion AS region,
  array_join(array_sort(array_agg(DISTINCT e.eventName)), ',') AS event_name,
  e.awsRegion AS target,
  arbitrary(coalesce(e.userIdentity.sessionContext.sessionIssuer.arn, e.userIdentity.arn)) AS principal_arn,
  count(*) AS n_events
FROM $EDS_ID e
JOIN new_regions n ON n.account = e.recipientAccountId AND n.region = e.awsRegion
WHERE e.eventTime >= $START_TIME AND e.eventTime < $END_TIME
  AND e.readOnly = false
  AND e.errorCode IS NULL
  AND e.userIdentity.invokedBy IS NULL
  AND NOT regexp_like(e.sourceIPAddress, 'amazonaws\.com$')
  AND e.eventSource NOT IN ('iam.amazonaws.com', 'sts.amazonaws.com', 'signin.amazonaws.com')
GROUP BY e.userIdentity.arn, e.recipientAccountId, e.awsRegion
