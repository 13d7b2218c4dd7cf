"""The registry of named containment actions (cloud-custodian style).

    >>> get_action("deactivate_access_key").permissions
    ('iam:GetUser', 'iam:ListAccessKeys', 'iam:UpdateAccessKey')

The CDK containment role is built from ``all_permissions()``, so IAM cannot drift from code.
"""

from __future__ import annotations

import importlib
from typing import Any, TypeVar

from trailhound.containment.base import Action
from trailhound.containment.errors import UnknownActionError

_ACTIONS: dict[str, type[Action[Any]]] = {}
_ACTION_MODULES = ("iam", "ec2", "s3", "cloudtrail", "awslambda")
_loaded = False

A = TypeVar("A", bound=type[Action[Any]])


def register(cls: A) -> A:
    """Class decorator: add an action under its ``name`` (names are unique)."""
    name = cls.name
    if name in _ACTIONS and _ACTIONS[name] is not cls:
        raise ValueError(f"containment action {name!r} registered twice")
    _ACTIONS[name] = cls
    return cls


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in _ACTION_MODULES:
            importlib.import_module(f"trailhound.containment.actions.{module}")
        _loaded = True


def list_actions() -> list[type[Action[Any]]]:
    """Every registered action class, sorted by name."""
    _load()
    return [_ACTIONS[n] for n in sorted(_ACTIONS)]


def action_names() -> list[str]:
    _load()
    return sorted(_ACTIONS)


def get_action(name: str) -> type[Action[Any]]:
    """The action class called ``name``; an unknown name lists the valid ones."""
    _load()
    try:
        return _ACTIONS[name]
    except KeyError:
        raise UnknownActionError(
            f"unknown containment action {name!r} (valid: {', '.join(sorted(_ACTIONS))})"
        ) from None


def all_permissions(*, include_rollback: bool = False) -> list[str]:
    """Sorted unique IAM actions needed to plan and apply every action (the containment role).

    Rollback is done by a person from the CLI with their own credentials; its extra permissions
    (re-opening ingress, re-sharing, stopping logging, ...) are not granted to the automated
    role unless ``include_rollback``.
    """
    perms: set[str] = set()
    for cls in list_actions():
        perms.update(cls.permissions)
        if include_rollback:
            perms.update(cls.rollback_permissions)
    return sorted(perms)
