"""The AWS side of an action: injected clients, account and region, error translation.

Actions never build clients themselves; they get an ``AwsContext`` wrapping a ``ClientFactory``
(a ``boto3.Session`` is one). Plain ``session.client(name)`` is used, so boto3's standard
endpoint settings (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_IAM``, ...) are honoured.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from trailhound.containment.errors import ContainmentAwsError, ResourceNotFoundError
from trailhound.errors import UserInputError

# Error codes that mean "the thing you named does not exist".
NOT_FOUND_CODES = frozenset({
    "NoSuchEntity",
    "NoSuchBucket",
    "InvalidInstanceID.NotFound",
    "InvalidInstanceID.Malformed",
    "InvalidGroup.NotFound",
    "InvalidGroupId.Malformed",
    "InvalidSnapshot.NotFound",
    "InvalidSnapshotID.Malformed",
    "InvalidAMIID.NotFound",
    "InvalidAMIID.Malformed",
    "InvalidAMIID.Unavailable",
    "TrailNotFoundException",
    "ResourceNotFoundException",
})


class ClientFactory(Protocol):
    """Anything that makes boto3 clients by service name, e.g. ``boto3.Session()``."""

    def client(self, service_name: str, /) -> Any: ...


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def one_line(text: object) -> str:
    return " ".join(str(text).split())


class AwsContext:
    """Clients (one per service, created on first use), region, partition, account id."""

    def __init__(self, factory: ClientFactory, *, account_id: str | None = None, region: str | None = None):
        self._factory = factory
        self._clients: dict[str, Any] = {}
        self._account_id = account_id
        self._region = region

    def client(self, service: str) -> Any:
        if service not in self._clients:
            try:
                self._clients[service] = self._factory.client(service)
            except NoRegionError as exc:
                raise UserInputError(
                    "no AWS region configured: set AWS_DEFAULT_REGION or pass --region"
                ) from exc
        return self._clients[service]

    @property
    def region(self) -> str:
        if self._region is None:
            region = getattr(self._factory, "region_name", None)
            self._region = region or self.client("sts").meta.region_name
        return str(self._region)

    @property
    def partition(self) -> str:
        region = self.region
        if region.startswith("cn-"):
            return "aws-cn"
        if region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    def account_id(self) -> str:
        """The account the clients act in (from a parameter, else STS GetCallerIdentity)."""
        if self._account_id is None:
            with self.call("sts", "GetCallerIdentity"):
                self._account_id = str(self.client("sts").get_caller_identity()["Account"])
        return self._account_id

    @contextmanager
    def call(self, action: str, operation: str, *, resource: str | None = None,
             not_found: frozenset[str] = NOT_FOUND_CODES) -> Iterator[None]:
        """Translate AWS errors inside the block into one-line ``ContainmentError``s."""
        try:
            yield
        except ClientError as exc:
            code = error_code(exc)
            message = one_line(exc.response.get("Error", {}).get("Message", "") or "")
            if resource and code in not_found:
                raise ResourceNotFoundError(f"{action}: {resource} does not exist ({code})") from exc
            raise ContainmentAwsError(f"{action}: AWS {operation} failed: {code}: {message}".rstrip(": ")) from exc
        except BotoCoreError as exc:
            raise ContainmentAwsError(f"{action}: AWS {operation} failed: {one_line(exc)}") from exc
