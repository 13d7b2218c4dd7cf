"""The library behind the incident-response playbooks in ``notebooks/``.

A playbook cell should read like the analyst's question, not like plumbing::

    import trailhound.playbooks as pb
    st = pb.connect(store)                       # local:PATH | lake:ID | athena:WG/DB.TABLE
    win = pb.window(start, end)                  # ISO times or "24h" ago
    subject = pb.pick_actor(st, win, actor_arn)  # the likeliest subject when none is given, and why
    df = pb.query_df(st, "sources", {"actor_arn": subject.value, "access_key_id": None}, win)
    pb.charts.show(pb.charts.source_ips(df))
    pb.contain.plan(pb.contain.for_credentials(subject.value, keys))

pandas and matplotlib come with the ``notebooks`` extra; they are imported only when used.
"""

from __future__ import annotations

from typing import Any

from trailhound.playbooks import approvals, contain, evidence, pickers
from trailhound.playbooks.pickers import Pick, pick_actor, pick_instance, pick_tampering
from trailhound.playbooks.query import Paging, Window, iter_pages, playbook_sql, query_df, window
from trailhound.store.base import EventStore

__all__ = ["EventStore", "Paging", "Pick", "Window", "approvals", "charts", "connect", "contain", "evidence", "header",
           "iter_pages", "pick_actor", "pick_instance", "pick_tampering", "pickers", "playbook_sql", "query_df",
           "window"]


def connect(spec: str | None = None) -> EventStore:
    """Open the event store read-only: ``spec`` or ``$TRAILHOUND_STORE`` or the local default."""
    from trailhound.store import open_store

    return open_store(spec or None, read_only=True)


def header(store: EventStore, win: Window, **subject: Any) -> str:
    """A Markdown line naming the store, the window and the subject parameters as given."""
    given = ", ".join(f"{k}=`{v}`" for k, v in subject.items() if v) or "none (the playbook picks one)"
    return f"**Store:** `{store.name}`  \n**Window:** {win} (UTC, end exclusive)  \n**Subject given:** {given}"


def __getattr__(name: str) -> Any:
    if name == "charts":  # matplotlib is imported only by playbooks that draw
        import importlib

        return importlib.import_module("trailhound.playbooks.charts")
    raise AttributeError(name)
