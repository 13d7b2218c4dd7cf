/*
id: activity_in_unused_region
title: Resources changed in a region the account had not been using
description: >-
  Successful write calls were made in a region where the account had no activity at all in the
  14 days before the window, although it had been active elsewhere for at least a day (the
  region first appears 24 hours or more after the account's earliest event in that span), and
  by at most three principals (a region the whole organisation starts using is an expansion, not
  an intrusion). Attackers deploy miners, relays and backdoors in regions nobody watches. The
  history comes from the event store itself; global services that always log in us-east-1 (IAM,
  STS, sign-in, Organizations, CloudFront, Route 53, billing) are ignored, as are calls AWS
  services make.
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
    AND h.region_first_seen >= date_add('day', 1, a.account_first_seen)
),
writes AS (
  SELECT
    e.eventID, e.eventTime, e.eventName, e.userIdentity.arn AS arn, e.userIdentity.type AS utype,
    e.userIdentity.accessKeyId AS akid, e.sourceIPAddress, e.userAgent, e.recipientAccountId, e.awsRegion,
    coalesce(e.userIdentity.sessionContext.sessionIssuer.arn, e.userIdentity.arn) AS principal_arn
  FROM $EDS_ID e
  JOIN new_regions n ON n.account = e.recipientAccountId AND n.region = e.awsRegion
  WHERE e.eventTime >= $START_TIME AND e.eventTime < $END_TIME
    AND e.readOnly = false
    AND e.errorCode IS NULL
    AND e.userIdentity.invokedBy IS NULL
    AND NOT regexp_like(e.sourceIPAddress, 'amazonaws\.com$')
    AND e.eventSource NOT IN ('iam.amazonaws.com', 'sts.amazonaws.com', 'signin.amazonaws.com')
),
few_hands AS (
  SELECT recipientAccountId, awsRegion
  FROM writes
  GROUP BY recipientAccountId, awsRegion
  HAVING count(DISTINCT arn) <= 3
)
SELECT
  array_agg(w.eventID) AS event_ids,
  min(w.eventTime) AS first_seen,
  max(w.eventTime) AS last_seen,
  w.arn AS actor_arn,
  arbitrary(w.utype) AS actor_type,
  max_by(w.akid, w.eventTime) AS access_key_id,
  max_by(w.sourceIPAddress, w.eventTime) AS source_ip,
  max_by(w.userAgent, w.eventTime) AS user_agent,
  w.recipientAccountId AS account_id,
  w.awsRegion AS region,
  array_join(array_sort(array_agg(DISTINCT w.eventName)), ',') AS event_name,
  w.awsRegion AS target,
  arbitrary(w.principal_arn) AS principal_arn,
  count(*) AS n_events
FROM writes w
JOIN few_hands f ON f.recipientAccountId = w.recipientAccountId AND f.awsRegion = w.awsRegion
GROUP BY w.arn, w.recipientAccountId, w.awsRegion
