"""Containment errors: each is a one-line message naming the action, parameter or resource."""

from __future__ import annotations

from trailhound.errors import ContainmentError, ProtectedPrincipalError, UserInputError

__all__ = [
    "ContainmentAwsError",
    "ContainmentError",
    "ContainmentParamError",
    "ProtectedPrincipalError",
    "RecordConflictError",
    "RecordNotFoundError",
    "ResourceNotFoundError",
    "UnknownActionError",
]


class UnknownActionError(UserInputError):
    """The action name is not registered (the message lists the valid ones)."""


class ContainmentParamError(UserInputError):
    """A missing, unknown or malformed action parameter (the message names it)."""


class ResourceNotFoundError(ContainmentError):
    """The target resource does not exist (the message names it and AWS's error code)."""


class ContainmentAwsError(ContainmentError):
    """AWS refused or failed a call (one line: action, operation, error code, message)."""


class RecordNotFoundError(ContainmentError):
    """No containment record with that id in the store."""


class RecordConflictError(ContainmentError):
    """A conditional write of a containment record failed (it exists, or changed meanwhile)."""
