"""Subject pickers: when a playbook's subject is empty, find the likeliest one and say why.

Each picker runs one playbook query over the window, ranks the candidates by a rule that is
written into the ``reason`` it returns, and gives the candidates table too, so the analyst sees
what was passed over. A subject given as a parameter is kept as is (the candidates still show).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trailhound.playbooks.query import Window, query_df
from trailhound.store.base import EventStore

if TYPE_CHECKING:
    import pandas as pd

# A principal denied on at least this many different APIs is probing (the access_denied_burst
# detection's rule), and ranks above one that is denied many times on the same call.
PROBING_APIS = 5
INSTANCE_ID = re.compile(r"i-[0-9a-fA-F]{8,17}$")


@dataclass(frozen=True)
class Pick:
    """The subject a playbook works on, and why."""

    kind: str  # actor | instance | resource
    value: str | None
    reason: str
    given: bool = False
    row: dict[str, Any] = field(default_factory=dict)  # the chosen candidate's columns
    candidates: pd.DataFrame | None = None

    def __bool__(self) -> bool:
        return bool(self.value)

    def get(self, column: str, default: Any = None) -> Any:
        value = self.row.get(column, default)
        return default if _missing(value) else value

    def markdown(self) -> str:
        head = f"**{self.kind}:** `{self.value}`" if self.value else f"**{self.kind}:** none"
        return f"{head}  \n{self.reason}"

    def _repr_markdown_(self) -> str:
        return self.markdown()


def _missing(value: Any) -> bool:
    try:
        import pandas as pd

        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return value is None


def _t(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if hasattr(value, "strftime") else str(value)


def _rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [dict(r) for r in df.to_dict(orient="records")]


def pick_actor(store: EventStore, win: Window, actor_arn: str | None = "") -> Pick:
    """The principal failing authorization the most (compromised credentials).

    Ranking: principals denied on at least ``PROBING_APIS`` different APIs first (probing), then
    by the number of AccessDenied / Unauthorized errors, then by distinct APIs, then the latest.
    """
    df = query_df(store, "failing_principals", None, win)
    if len(df):
        df = df.assign(probing=df["apis"] >= PROBING_APIS).sort_values(
            ["probing", "denied", "apis", "last_seen"], ascending=False, kind="stable", ignore_index=True)
    rows = _rows(df)
    if actor_arn:
        row = next((r for r in rows if r["actor_arn"] == actor_arn), {})
        why = (f"given as a parameter; it was denied {row['denied']} times on {row['apis']} APIs in the window"
               if row else "given as a parameter; it had no authorization failures in the window")
        return Pick("actor", actor_arn, why, given=True, row=row, candidates=df)
    if not rows:
        return Pick("actor", None, f"no principal failed authorization between {win}: give `actor_arn` "
                                   "(e.g. from the finding) to investigate one", candidates=df)
    top = rows[0]
    why = (f"it failed authorization the most in the window: {top['denied']} AccessDenied/Unauthorized "
           f"errors on {top['apis']} APIs of {top['services']} services from {top['source_ips']} address(es) "
           f"(last {top['last_source_ip']}), {_t(top['first_seen'])} to {_t(top['last_seen'])}")
    if top["apis"] >= PROBING_APIS:
        why += f"; being denied on {PROBING_APIS}+ different APIs is what probing stolen credentials looks like"
    if len(rows) > 1:
        nxt = rows[1]
        why += f". Next: {nxt['actor_arn']} ({nxt['denied']} errors on {nxt['apis']} APIs)"
    return Pick("actor", top["actor_arn"], why + ".", row=top, candidates=df)


def pick_instance(store: EventStore, win: Window, instance_id: str | None = "") -> Pick:
    """The instance whose role session was used from the most outside addresses.

    The first address a session is seen from in the window counts as the instance's own
    (``home_ip``); every other public address is outside.
    """
    df = query_df(store, "instance_sessions", None, win)
    rows = _rows(df)
    if instance_id:
        row = next((r for r in rows if r["instance_id"] == instance_id), {})
        why = (f"given as a parameter; its role session was used from {row['outside_ips']} outside address(es) "
               f"besides {row['home_ip']}" if row else
               "given as a parameter; no instance-role calls of it in the window")
        return Pick("instance", instance_id, why, given=True, row=row, candidates=df)
    if not rows:
        return Pick("instance", None, f"no EC2 instance-role session made calls between {win}: give `instance_id`",
                    candidates=df)
    top = rows[0]
    if top["outside_ips"]:
        why = (f"its role session {top['actor_arn']} was used from {top['outside_ips']} address(es) other than "
               f"the instance's own ({top['home_ip']}, the first it was seen from): {top['outside_events']} of "
               f"its {top['events']} calls came from outside")
    else:
        why = (f"no instance-role session was used from outside its instance; {top['instance_id']} is the "
               f"latest busy one ({top['events']} calls)")
    if len(rows) > 1:
        nxt = rows[1]
        why += f". Next: {nxt['instance_id']} ({nxt['outside_ips']} outside address(es))"
    return Pick("instance", top["instance_id"], why + ".", row=top, candidates=df)


def pick_tampering(store: EventStore, win: Window, resource: str | None = "") -> Pick:
    """The resource of the most recent successful tampering or exposure call in the window."""
    df = query_df(store, "tampering_calls", None, win)
    if len(df):
        df = df.sort_values(["event_time", "event_id"], ascending=[False, True], kind="stable", ignore_index=True)
    rows = _rows(df)
    ok = [r for r in rows if _missing(r.get("error_code")) and not _missing(r.get("resource"))]
    if resource:
        row = next((r for r in ok if _same_resource(r["resource"], resource)), {})
        why = (f"given as a parameter; last changed by {row['event_name']} at {_t(row['event_time'])}" if row
               else "given as a parameter; no successful tampering or exposure call named it in the window")
        return Pick("resource", resource, why, given=True, row=row, candidates=df)
    if not ok:
        return Pick("resource", None, f"no successful tampering or exposure call between {win}: give `resource`",
                    candidates=df)
    top = ok[0]
    why = (f"the most recent tampering or exposure call in the window: {top['event_name']} on the {top['kind']} "
           f"{top['resource']} by {top['actor_arn']} from {top['source_ip']} at {_t(top['event_time'])}")
    if len(ok) > 1:
        why += f" ({len(ok) - 1} earlier call(s) in the table below)"
    return Pick("resource", top["resource"], why + ".", row=top, candidates=df)


def _same_resource(named: str, wanted: str) -> bool:
    return named == wanted or named.endswith(f"/{wanted}") or wanted.endswith(f"/{named}")


def instance_of(actor_arn: str | None) -> str | None:
    """The instance id an instance-role session is named after."""
    m = INSTANCE_ID.search(actor_arn or "")
    return m.group(0) if m else None
