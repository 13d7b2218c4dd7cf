"""Named exceptions. The CLI maps them to one-line messages and exit codes in one place.

A user's mistake (bad file, bad parameter, unknown store) must never surface as a traceback:
raise a subclass of ``TrailHoundError`` whose message names the file, record, field or
parameter and says what was expected.
"""

from __future__ import annotations


class TrailHoundError(Exception):
    """Base class for errors a person can act on. ``exit_code`` is what the CLI exits with."""

    exit_code = 2


class UserInputError(TrailHoundError):
    """A parameter, option or file given by the user is malformed."""


class SqlError(TrailHoundError):
    """SQL that cannot be translated or executed (names the construct or the detection)."""


class UnsupportedSqlError(SqlError):
    """A Lake-dialect construct the target engine cannot express."""


class UnsafeValueError(TrailHoundError):
    """A value that would be pasted into SQL text and cannot be made a safe literal."""


class StoreError(TrailHoundError):
    """The event store refused or failed a request (names the store and AWS's error code)."""


class QueryFailedError(StoreError):
    """A query reached a terminal state other than success."""

    def __init__(self, message: str, *, query_id: str | None = None, status: str | None = None):
        super().__init__(message)
        self.query_id = query_id
        self.status = status


class DetectionFormatError(TrailHoundError):
    """A detection file whose header or SQL is malformed (names the path and the field)."""


class ContainmentError(TrailHoundError):
    """A containment action could not be planned, applied or rolled back."""


class ProtectedPrincipalError(ContainmentError):
    """The target is a protected principal: every action refuses it before any AWS call."""
