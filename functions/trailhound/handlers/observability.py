"""Powertools Logger, Tracer and Metrics shared by every TrailHound Lambda handler.

Import these once per handler module::

    from trailhound.handlers.observability import logger, metrics, tracer

Service name ``trailhound`` (override per function with ``POWERTOOLS_SERVICE_NAME``), metrics
namespace ``TrailHound``. Library code logs through ``logging.getLogger("trailhound.<module>")``;
:func:`adopt_library_loggers` gives those loggers the Powertools JSON format, so a cycle's log
lines carry the same keys (and correlation id) as the handler's own.
"""

from __future__ import annotations

import logging
import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "trailhound"
NAMESPACE = "TrailHound"

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE)
tracer = Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or NAMESPACE,
                  service=os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE)

__all__ = ["NAMESPACE", "SERVICE", "MetricUnit", "adopt_library_loggers", "logger", "metrics", "tracer"]


def adopt_library_loggers() -> None:
    """Give the package's ``trailhound.*`` stdlib loggers the Powertools handler and format."""
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

    logging.getLogger("trailhound")  # make sure the package logger is registered
    copy_config_to_registered_loggers(source_logger=logger, include={"trailhound"})
