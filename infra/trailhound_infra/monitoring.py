"""Alarms, all sent to the findings topic:

- the detect Lambda errored, or did not run at all for an hour (a disabled schedule is tampering);
- the scheduler's watermark lag (metric ``WatermarkLagSeconds`` that the detect Lambda emits with
  Powertools Metrics in namespace ``TrailHound``, dimension ``service=trailhound``) is over an hour;
- an investigation failed, timed out or was aborted;
- a dead-letter queue holds a message;
- any other TrailHound Lambda errored.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

METRIC_NAMESPACE = "TrailHound"
SERVICE = "trailhound"
WATERMARK_LAG_METRIC = "WatermarkLagSeconds"
WATERMARK_LAG_THRESHOLD = Duration.hours(1)


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, topic: sns.ITopic, detect: lambda_.IFunction,
                 state_machine: sfn.IStateMachine, dead_letter_queues: Sequence[tuple[str, sqs.IQueue]],
                 other_functions: Sequence[tuple[str, lambda_.IFunction]]) -> None:
        super().__init__(scope, construct_id)
        action = cw_actions.SnsAction(topic)
        self.alarms: list[cloudwatch.Alarm] = []

        def alarm(alarm_id: str, metric: cloudwatch.IMetric, *, threshold: float, description: str,
                  comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                  evaluation_periods: int = 1,
                  missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING) -> None:
            a = cloudwatch.Alarm(self, alarm_id, metric=metric, threshold=threshold, comparison_operator=comparison,
                                 evaluation_periods=evaluation_periods, treat_missing_data=missing,
                                 alarm_description=f"TrailHound: {description}")
            a.add_alarm_action(action)
            self.alarms.append(a)

        five_min = Duration.minutes(5)
        alarm("DetectErrors", detect.metric_errors(period=five_min), threshold=1,
              description="the detect Lambda failed; findings are delayed until a run succeeds")
        alarm("DetectNotRunning", detect.metric_invocations(period=Duration.hours(1)), threshold=1,
              comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
              missing=cloudwatch.TreatMissingData.BREACHING,
              description="the detect Lambda has not run for an hour: are the schedule rules disabled?")
        alarm("WatermarkLag", cloudwatch.Metric(
                  namespace=METRIC_NAMESPACE, metric_name=WATERMARK_LAG_METRIC,
                  dimensions_map={"service": SERVICE}, statistic="Maximum", period=Duration.minutes(15)),
              threshold=WATERMARK_LAG_THRESHOLD.to_seconds(), evaluation_periods=2,
              description="detections are more than an hour behind (throttling, failures or a backlog)")
        alarm("InvestigationsFailed", state_machine.metric_failed(period=five_min), threshold=1,
              description="an investigation failed")
        alarm("InvestigationsTimedOut", state_machine.metric_timed_out(period=five_min), threshold=1,
              description="an investigation timed out")
        alarm("InvestigationsAborted", state_machine.metric_aborted(period=five_min), threshold=1,
              description="an investigation was aborted")
        for name, queue in dead_letter_queues:
            alarm(f"{name}DeadLetters", queue.metric_approximate_number_of_messages_visible(period=five_min),
                  threshold=1, description=f"{name}: a message is in the dead-letter queue")
        for name, fn in other_functions:
            alarm(f"{name}Errors", fn.metric_errors(period=five_min), threshold=1,
                  description=f"the {name} Lambda failed")
