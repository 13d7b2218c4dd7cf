"""Attack simulator: CloudTrail delivery files for named scenarios mixed with benign activity.

Deterministic for a seed and a start time. See ``trailhound simulate --list``.
"""

from trailhound.simulate.scenarios import SCENARIOS, Scenario, simulate

__all__ = ["SCENARIOS", "Scenario", "simulate"]
