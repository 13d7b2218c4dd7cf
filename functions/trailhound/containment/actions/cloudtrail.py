"""CloudTrail containment: restore logging an attacker stopped or narrowed."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from trailhound.containment.base import Action, ActionParams, JsonList
from trailhound.containment.errors import ContainmentError
from trailhound.containment.models import ContainmentRecord, Plan, Result, ResultStatus
from trailhound.containment.registry import register

MANAGEMENT_SELECTOR: dict[str, Any] = {
    "ReadWriteType": "All",
    "IncludeManagementEvents": True,
    "DataResources": [],
    "ExcludeManagementEventSources": [],
}
MANAGEMENT_ADVANCED_SELECTOR: dict[str, Any] = {
    "Name": "TrailHound: all management events",
    "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
}
MAX_EVENT_SELECTORS = 5


class TrailParams(ActionParams):
    trail: str = Field(
        pattern=r"^(arn:aws[\w-]*:cloudtrail:[\w-]+:\d{12}:trail/)?[A-Za-z0-9][\w.-]{2,127}$",
        description="trail name or trail ARN, e.g. management-events")
    event_selectors: JsonList | None = Field(
        default=None, description="event selectors to restore (JSON list, as GetEventSelectors returns them); "
                                  "default: keep the current ones and add all management events if missing")
    advanced_event_selectors: JsonList | None = Field(
        default=None, description="advanced event selectors to restore (JSON list) instead of event_selectors")

    @model_validator(mode="after")
    def _one_kind(self) -> TrailParams:
        if self.event_selectors is not None and self.advanced_event_selectors is not None:
            raise ValueError("give event_selectors or advanced_event_selectors, not both")
        return self

    @property
    def trail_name(self) -> str:
        return self.trail.rsplit("/", 1)[-1]


def _normal_basic(sel: dict[str, Any]) -> dict[str, Any]:
    return {**MANAGEMENT_SELECTOR, **{k: v for k, v in sel.items() if v is not None}}


def _logs_all_management(basic: list[dict[str, Any]], advanced: list[dict[str, Any]]) -> bool:
    if advanced:
        return any(
            len(s.get("FieldSelectors", [])) == 1
            and s["FieldSelectors"][0].get("Field") == "eventCategory"
            and s["FieldSelectors"][0].get("Equals") == ["Management"]
            for s in advanced
        )
    return any(
        n["IncludeManagementEvents"] and n["ReadWriteType"] == "All" and not n["ExcludeManagementEventSources"]
        for n in map(_normal_basic, basic)
    )


@register
class RestoreCloudTrailLogging(Action[TrailParams]):
    """Restart a stopped trail (StartLogging) and restore its event selectors: the ones given, or
    the current ones plus all management events when the trail no longer records them.

    Example::

        trailhound contain restore_cloudtrail_logging --param trail=management-events --apply
    """

    name = "restore_cloudtrail_logging"
    Params = TrailParams
    permissions = (
        "cloudtrail:GetTrail", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors",
        "cloudtrail:StartLogging", "cloudtrail:PutEventSelectors",
    )
    # Never granted to the automated role: only a person can turn logging off again.
    rollback_permissions = ("cloudtrail:PutEventSelectors", "cloudtrail:StopLogging")

    def target_arns(self, params: TrailParams) -> list[str]:
        if params.trail.startswith("arn:"):
            return [params.trail]
        return [self.arn_template("cloudtrail", f"trail/{params.trail}")]

    @property
    def cloudtrail(self) -> Any:
        return self.aws.client("cloudtrail")

    def _state(self, p: TrailParams) -> dict[str, Any]:
        with self.aws.call(self.name, "GetTrail", resource=f"CloudTrail trail {p.trail!r}"):
            trail = self.cloudtrail.get_trail(Name=p.trail)["Trail"]
        home = trail.get("HomeRegion")
        if home and home != self.aws.region:
            raise ContainmentError(
                f"{self.name}: trail {p.trail!r} lives in {home}, not {self.aws.region}: run it with --region {home}")
        status = self.cloudtrail.get_trail_status(Name=p.trail)
        selectors = self.cloudtrail.get_event_selectors(TrailName=p.trail)
        return {
            "trail_arn": trail.get("TrailARN"),
            "is_logging": bool(status.get("IsLogging")),
            "event_selectors": list(selectors.get("EventSelectors") or []),
            "advanced_event_selectors": list(selectors.get("AdvancedEventSelectors") or []),
        }

    def _wanted(self, p: TrailParams, state: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
        """(kind, selectors) to put, or None when the selectors are already right."""
        basic, advanced = state["event_selectors"], state["advanced_event_selectors"]
        if p.event_selectors is not None:
            if advanced or [_normal_basic(s) for s in basic] != [_normal_basic(s) for s in p.event_selectors]:
                return "basic", list(p.event_selectors)
            return None
        if p.advanced_event_selectors is not None:
            return None if advanced == p.advanced_event_selectors else ("advanced", list(p.advanced_event_selectors))
        if _logs_all_management(basic, advanced):
            return None
        if advanced:
            return "advanced", [*advanced, MANAGEMENT_ADVANCED_SELECTOR]
        if len(basic) >= MAX_EVENT_SELECTORS:
            raise ContainmentError(
                f"{self.name}: trail {p.trail!r} has {len(basic)} event selectors and none logs all management "
                "events: pass event_selectors explicitly")
        return "basic", [*basic, MANAGEMENT_SELECTOR]

    def _plan(self, p: TrailParams) -> Plan:
        state = self._state(p)
        wanted = self._wanted(p, state)
        changes = []
        if not state["is_logging"]:
            changes.append(f"start logging on trail {p.trail}")
        if wanted:
            changes.append(f"put {len(wanted[1])} {'advanced ' if wanted[0] == 'advanced' else ''}event selectors "
                           f"on trail {p.trail} (all management events recorded)")
        return Plan(
            action=self.name, targets=[state["trail_arn"] or self.resolve(self.target_arns(p)[0])],
            already_contained=not changes, changes=changes,
            notes=["events in the gap while logging was off are not recovered: look them up in "
                   "CloudTrail event history (90 days of management events)",
                   "rollback would put back the previous state (logging off, old selectors): "
                   "normally this action is not rolled back"],
            current_state=state,
        )

    def _apply(self, p: TrailParams, record: ContainmentRecord) -> Result:
        state = self._state(p)
        wanted = self._wanted(p, state)
        if state["is_logging"] and not wanted:
            return Result(status=ResultStatus.ALREADY_CONTAINED,
                          message=f"trail {p.trail} is logging and records all management events")
        record.save_before_state(is_logging=state["is_logging"], event_selectors=state["event_selectors"],
                                 advanced_event_selectors=state["advanced_event_selectors"])
        changes = []
        if not state["is_logging"]:
            self.cloudtrail.start_logging(Name=p.trail)
            changes.append(f"started logging on trail {p.trail}")
        if wanted:
            self._put(p.trail, *wanted)
            changes.append(f"put {len(wanted[1])} {wanted[0]} event selectors on trail {p.trail}")
        return Result(status=ResultStatus.APPLIED, changes=changes)

    def _put(self, trail: str, kind: str, selectors: list[dict[str, Any]]) -> None:
        if kind == "advanced":
            self.cloudtrail.put_event_selectors(TrailName=trail, AdvancedEventSelectors=selectors)
        else:
            self.cloudtrail.put_event_selectors(TrailName=trail, EventSelectors=selectors)

    def _rollback(self, p: TrailParams, record: ContainmentRecord) -> Result:
        if "is_logging" not in record.before_state:
            return Result(status=ResultStatus.NOTHING_TO_ROLL_BACK, message="apply changed nothing")
        before = record.before_state
        state = self._state(p)
        changes = []
        message = ""
        if before.get("advanced_event_selectors"):
            if state["advanced_event_selectors"] != before["advanced_event_selectors"]:
                self._put(p.trail, "advanced", before["advanced_event_selectors"])
                changes.append(f"restored the previous advanced event selectors of {p.trail}")
        elif before.get("event_selectors"):
            if state["event_selectors"] != before["event_selectors"] or state["advanced_event_selectors"]:
                self._put(p.trail, "basic", before["event_selectors"])
                changes.append(f"restored the previous event selectors of {p.trail}")
        else:
            message = "the trail had no event selectors before; the current ones were kept"
        if not before["is_logging"] and state["is_logging"]:
            self.cloudtrail.stop_logging(Name=p.trail)
            changes.append(f"stopped logging on trail {p.trail} (as it was before)")
        return Result(status=ResultStatus.ROLLED_BACK, changes=changes, message=message)
