"""Fan-out of new findings: EventBridge bus ``trailhound``, SNS, and Security Hub (ASFF).

Every sink takes the finding's event detail (``Finding.to_event_detail()``, as kept in the
outbox) and its boto3 client is injected. Each reports, per fingerprint, whether it accepted the
finding; failed entries are retried with backoff a few times, then left in the outbox for the
next cycle. Consumers must be idempotent on the fingerprint (a finding may be delivered again
after a partial failure — at-least-once, never silently lost).
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from trailhound.errors import TrailHoundError
from trailhound.findings import DETAIL_TYPE, EVENT_SOURCE
from trailhound.scheduler.state import OutboxItem

log = logging.getLogger("trailhound.scheduler.publish")

ASFF_SCHEMA_VERSION = "2018-10-08"
EVENTBRIDGE_BATCH = 10
SECURITY_HUB_BATCH = 100
EVENTBRIDGE_MAX_BYTES = 250_000  # PutEvents: 256 KB per entry, with headroom for the envelope
SNS_MAX_BYTES = 250_000  # SNS: 256 KB per message
ASFF_MAX_BYTES = 230_000  # BatchImportFindings: 240 KB per finding
SEVERITY_LABELS = {"info": "INFORMATIONAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH",
                   "critical": "CRITICAL"}
# ASFF Types taxonomy: TTPs categories follow MITRE ATT&CK; exfiltration/impact are Effects.
_TACTIC_TYPES = {
    "Initial Access": "TTPs/Initial Access", "Execution": "TTPs/Execution", "Persistence": "TTPs/Persistence",
    "Privilege Escalation": "TTPs/Privilege Escalation", "Defense Evasion": "TTPs/Defense Evasion",
    "Credential Access": "TTPs/Credential Access", "Discovery": "TTPs/Discovery",
    "Lateral Movement": "TTPs/Lateral Movement", "Collection": "TTPs/Collection",
    "Command and Control": "TTPs/Command and Control", "Exfiltration": "Effects/Data Exfiltration",
    "Impact": "Effects",
}
FALLBACK_TYPE = "Unusual Behaviors/User"


class Sink(enum.StrEnum):
    EVENTBRIDGE = "eventbridge"
    SNS = "sns"
    SECURITY_HUB = "securityhub"


class PublishError(TrailHoundError):
    """A sink refused a request outright (names the sink and AWS's error code)."""


Sleep = Callable[[float], None]


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__))


def fit_detail(detail: Mapping[str, Any], max_bytes: int) -> dict[str, Any]:
    """The detail, with ``event_ids`` shortened (``event_ids_total`` added) if it is too large."""
    out = dict(detail)
    ids = list(out.get("event_ids") or [])
    if len(json.dumps(out, ensure_ascii=False).encode()) <= max_bytes:
        return out
    keep = len(ids)
    while keep > 1:
        keep //= 2
        out = {**detail, "event_ids": ids[:keep], "event_ids_total": len(ids)}
        if len(json.dumps(out, ensure_ascii=False).encode()) <= max_bytes:
            return out
    return {**detail, "event_ids": ids[:1], "event_ids_total": len(ids)}


# --- EventBridge ------------------------------------------------------------------------------------------

def eventbridge_entry(detail: Mapping[str, Any], bus_name: str) -> dict[str, Any]:
    """A ``PutEvents`` entry: source ``trailhound``, detail-type ``TrailHound Finding``."""
    actor = detail.get("actor_arn")
    return {
        "Source": EVENT_SOURCE,
        "DetailType": DETAIL_TYPE,
        "EventBusName": bus_name,
        "Resources": [actor] if isinstance(actor, str) and actor.startswith("arn:") else [],
        "Detail": json.dumps(fit_detail(detail, EVENTBRIDGE_MAX_BYTES), ensure_ascii=False),
    }


def put_events(client: Any, details: Sequence[Mapping[str, Any]], bus_name: str, *,
               attempts: int = 4, sleep: Sleep = time.sleep) -> dict[str, bool]:
    """Send each detail to the bus in batches of 10, retrying failed entries; fingerprint → accepted."""
    done: dict[str, bool] = {}
    for i in range(0, len(details), EVENTBRIDGE_BATCH):
        batch = list(details[i:i + EVENTBRIDGE_BATCH])
        for attempt in range(attempts):
            entries = [eventbridge_entry(d, bus_name) for d in batch]
            try:
                resp = client.put_events(Entries=entries)
            except Exception as exc:  # throttled or refused as a whole
                log.warning("PutEvents failed", extra={"bus": bus_name, "error": _code(exc), "attempt": attempt})
                if attempt + 1 < attempts:
                    sleep(0.2 * 2 ** attempt)
                continue
            retry = []
            for d, r in zip(batch, resp.get("Entries", []), strict=False):
                if r.get("ErrorCode"):
                    retry.append(d)
                    log.warning("PutEvents entry failed", extra={
                        "fingerprint": d.get("fingerprint"), "error": r.get("ErrorCode"),
                        "error_message": r.get("ErrorMessage")})
                else:
                    done[str(d["fingerprint"])] = True
            batch = retry + batch[len(resp.get("Entries", [])):]
            if not batch:
                break
            if attempt + 1 < attempts:
                sleep(0.2 * 2 ** attempt)
        for d in batch:
            done.setdefault(str(d["fingerprint"]), False)
    return done


# --- SNS ------------------------------------------------------------------------------------------------

def sns_subject(detail: Mapping[str, Any]) -> str:
    """ASCII, one line, under 100 characters (SNS's limits for an email subject)."""
    sev = str(detail.get("severity") or "").upper()
    text = f"[TrailHound] {sev} {detail.get('title') or detail.get('detection_id')}"
    text = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    return text[:99]


def sns_message(detail: Mapping[str, Any]) -> str:
    """A short summary for people, then the finding as JSON for programs."""
    d = detail
    resp = d.get("response") or {}
    lines = [
        f"TrailHound finding: {d.get('title')}",
        f"Severity: {str(d.get('severity') or '').upper()}    Detection: {d.get('detection_id')}",
        f"Actor: {d.get('actor_arn')} ({d.get('actor_type')})    Access key: {d.get('access_key_id')}",
        f"Call: {d.get('event_name')} on {d.get('target')}",
        f"Account / Region: {d.get('account_id')} / {d.get('region')}",
        f"Source IP: {d.get('source_ip')}    User agent: {d.get('user_agent')}",
        f"Seen: {d.get('first_seen')} .. {d.get('last_seen')} ({len(d.get('event_ids') or [])} event(s))",
        f"Proposed response: {resp.get('action') or 'notify only'} {json.dumps(resp.get('params') or {})}",
        f"Runbook: {resp.get('runbook')}",
        f"Fingerprint: {d.get('fingerprint')}",
        "",
        "--- finding (JSON) ---",
    ]
    head = "\n".join(lines) + "\n"
    body = json.dumps(fit_detail(detail, SNS_MAX_BYTES - len(head.encode())), indent=2, ensure_ascii=False)
    return head + body


def publish_sns(client: Any, topic_arn: str, details: Sequence[Mapping[str, Any]], *,
                attempts: int = 3, sleep: Sleep = time.sleep) -> dict[str, bool]:
    done: dict[str, bool] = {}
    for d in details:
        fp = str(d["fingerprint"])
        done[fp] = False
        for attempt in range(attempts):
            try:
                client.publish(
                    TopicArn=topic_arn, Subject=sns_subject(d), Message=sns_message(d),
                    MessageAttributes={
                        "severity": {"DataType": "String", "StringValue": str(d.get("severity") or "info")},
                        "detection_id": {"DataType": "String", "StringValue": str(d.get("detection_id"))},
                    })
                done[fp] = True
                break
            except Exception as exc:
                log.warning("SNS Publish failed", extra={"fingerprint": fp, "error": _code(exc), "attempt": attempt})
                if attempt + 1 < attempts:
                    sleep(0.2 * 2 ** attempt)
    return done


# --- Security Hub (ASFF) ---------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _technique_tactics() -> dict[str, tuple[str, ...]]:
    import trailhound.detections as pkg

    path = Path(pkg.__file__).parent / "techniques.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {t["id"]: tuple(t.get("tactics") or ()) for t in data if isinstance(t, dict) and "id" in t}


def asff_types(detail: Mapping[str, Any]) -> list[str]:
    tactics = _technique_tactics()
    types = [_TACTIC_TYPES[t] for tech in detail.get("techniques") or [] for t in tactics.get(tech, ())
             if t in _TACTIC_TYPES]
    return list(dict.fromkeys(types))[:50] or [FALLBACK_TYPE]


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def product_arn(region: str, account_id: str) -> str:
    """The account's default product, the one custom integrations import into."""
    return f"arn:{_partition(region)}:securityhub:{region}:{account_id}:product/{account_id}/default"


def asff_id(detail: Mapping[str, Any]) -> str:
    """Stable per finding: retries update the same Security Hub finding, recurrences get their own."""
    first = str(detail.get("first_seen") or "").replace(":", "").replace("-", "")
    return f"trailhound/{detail.get('detection_id')}/{detail.get('fingerprint')}/{first}"[:512]


def _asff_time(value: Any, default: str) -> str:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return default


def _resources(detail: Mapping[str, Any], region: str, account_id: str) -> list[dict[str, Any]]:
    partition = _partition(region)
    res: list[dict[str, Any]] = []
    extra = detail.get("extra") or {}
    principal = extra.get("principal_arn") if isinstance(extra.get("principal_arn"), str) else None
    actor = principal or detail.get("actor_arn")
    actor_type = str(detail.get("actor_type") or "")
    if isinstance(actor, str) and actor:
        if ":role/" in actor or ":assumed-role/" in actor:
            kind = "AwsIamRole"
        elif ":user/" in actor:
            kind = "AwsIamUser"
        elif actor_type == "Root" or actor.endswith(":root"):
            kind = "AwsAccount"
        else:
            kind = "Other"
        res.append({"Type": kind, "Id": actor[:512], "Partition": partition, "Region": region})
    key = detail.get("access_key_id")
    if isinstance(key, str) and key:
        res.append({"Type": "AwsIamAccessKey", "Id": key, "Partition": partition, "Region": region})
    target = detail.get("target")
    if isinstance(target, str) and target and target != actor:
        res.append({"Type": "Other", "Id": target[:512], "Partition": partition, "Region": region})
    if not res:  # Resources must not be empty
        acct = str(detail.get("account_id") or account_id)
        res.append({"Type": "AwsAccount", "Id": f"AWS::::Account:{acct}", "Partition": partition,
                    "Region": region})
    return res[:32]


def _description(d: Mapping[str, Any]) -> str:
    n = len(d.get("event_ids") or [])
    resp = d.get("response") or {}
    text = (f"{d.get('actor_arn') or 'An unknown principal'} ({d.get('actor_type') or 'unknown type'}) called "
            f"{d.get('event_name')} on {d.get('target') or 'an unnamed resource'} in account "
            f"{d.get('account_id')}, region {d.get('region')}, from {d.get('source_ip')} "
            f"between {d.get('first_seen')} and {d.get('last_seen')} ({n} event(s)). "
            f"Detection {d.get('detection_id')}; proposed response: {resp.get('action') or 'notify only'}.")
    return text[:1024]


def to_asff(detail: Mapping[str, Any], *, region: str, account_id: str, now: dt.datetime) -> dict[str, Any]:
    """The finding in the AWS Security Finding Format, every required top-level attribute set.

    ``AwsAccountId`` is the importing account (the default product ARN requires it); the account
    the activity happened in is ``ProductFields["trailhound/ActivityAccountId"]``.
    """
    stamp = now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    sev = str(detail.get("severity") or "info").lower()
    label = SEVERITY_LABELS.get(sev, "INFORMATIONAL")
    types = asff_types(detail)
    resp = detail.get("response") or {}
    ids = list(detail.get("event_ids") or [])
    product_fields = {
        "trailhound/DetectionId": str(detail.get("detection_id")),
        "trailhound/Fingerprint": str(detail.get("fingerprint")),
        "trailhound/ActivityAccountId": str(detail.get("account_id") or ""),
        "trailhound/EventCount": str(len(ids)),
        "trailhound/EventIds": ",".join(ids)[:2000],
        "trailhound/ResponseAction": str(resp.get("action") or "notify-only"),
        "trailhound/Runbook": str(resp.get("runbook") or ""),
        "trailhound/Attack": ",".join(detail.get("attack") or []),
    }
    title = str(detail.get("title") or detail.get("detection_id"))
    if detail.get("target"):
        title = f"{title}: {detail.get('target')}"
    finding: dict[str, Any] = {
        "SchemaVersion": ASFF_SCHEMA_VERSION,
        "Id": asff_id(detail),
        "ProductArn": product_arn(region, account_id),
        "GeneratorId": f"trailhound/{detail.get('detection_id')}",
        "AwsAccountId": account_id,
        "Types": types,
        "CreatedAt": _asff_time(detail.get("first_seen"), stamp),
        "UpdatedAt": stamp,
        "FirstObservedAt": _asff_time(detail.get("first_seen"), stamp),
        "LastObservedAt": _asff_time(detail.get("last_seen"), stamp),
        "Severity": {"Label": label, "Original": sev},
        "FindingProviderFields": {"Severity": {"Label": label, "Original": sev}, "Types": types},
        "Title": title[:256],
        "Description": _description(detail),
        "ProductName": "TrailHound",
        "CompanyName": "TrailHound",
        "Resources": _resources(detail, region, account_id),
        "ProductFields": {k: v for k, v in product_fields.items() if v},
        "RecordState": "ACTIVE",
    }
    if resp.get("action") or resp.get("runbook"):
        finding["Remediation"] = {"Recommendation": {"Text": (
            f"Proposed containment: {resp.get('action') or 'none (notify only)'} "
            f"{json.dumps(resp.get('params') or {})}. Runbook: {resp.get('runbook') or '-'}")[:512]}}
    ip = detail.get("source_ip")
    if isinstance(ip, str) and _is_ipv4(ip) and detail.get("event_name"):
        finding["Action"] = {"ActionType": "AWS_API_CALL", "AwsApiCallAction": {
            "Api": str(detail.get("event_name"))[:128], "CallerType": "remoteip",
            "RemoteIpDetails": {"IpAddressV4": ip},
            "FirstSeen": finding["FirstObservedAt"], "LastSeen": finding["LastObservedAt"]}}
    while len(json.dumps(finding).encode()) > ASFF_MAX_BYTES and len(finding["ProductFields"]["trailhound/EventIds"]) > 64:
        finding["ProductFields"]["trailhound/EventIds"] = finding["ProductFields"]["trailhound/EventIds"][:64]
    return finding


def _is_ipv4(value: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(value), ipaddress.IPv4Address)
    except ValueError:
        return False


def import_security_hub(client: Any, details: Sequence[Mapping[str, Any]], *, region: str, account_id: str,
                        now: dt.datetime | None = None, attempts: int = 3,
                        sleep: Sleep = time.sleep) -> dict[str, bool]:
    """``BatchImportFindings`` in batches of 100, retrying the findings it reports as failed."""
    now = now or dt.datetime.now(dt.UTC)
    done: dict[str, bool] = {}
    for i in range(0, len(details), SECURITY_HUB_BATCH):
        batch = {asff_id(d): d for d in details[i:i + SECURITY_HUB_BATCH]}
        for attempt in range(attempts):
            findings = [to_asff(d, region=region, account_id=account_id, now=now) for d in batch.values()]
            try:
                resp = client.batch_import_findings(Findings=findings)
            except Exception as exc:
                log.warning("BatchImportFindings failed", extra={"error": _code(exc), "attempt": attempt})
                if attempt + 1 < attempts:
                    sleep(0.2 * 2 ** attempt)
                continue
            failed = {f.get("Id"): f for f in resp.get("FailedFindings") or []}
            for fid, d in list(batch.items()):
                if fid in failed:
                    log.warning("BatchImportFindings rejected a finding", extra={
                        "fingerprint": d.get("fingerprint"), "error": failed[fid].get("ErrorCode"),
                        "error_message": failed[fid].get("ErrorMessage")})
                else:
                    done[str(d["fingerprint"])] = True
                    del batch[fid]
            if not batch:
                break
            if attempt + 1 < attempts:
                sleep(0.2 * 2 ** attempt)
        for d in batch.values():
            done.setdefault(str(d["fingerprint"]), False)
    return done


# --- the fan-out -------------------------------------------------------------------------------------

class Publisher:
    """The enabled sinks, with their injected clients. ``publish`` reports what each item still needs."""

    def __init__(self, *, events: Any = None, bus_name: str = "trailhound", sns: Any = None,
                 topic_arn: str | None = None, securityhub: Any = None, region: str | None = None,
                 account_id: str | None = None, sleep: Sleep = time.sleep):
        self.events, self.bus_name = events, bus_name
        self.sns, self.topic_arn = sns, topic_arn
        self.securityhub, self.region, self.account_id = securityhub, region, account_id
        self.sleep = sleep
        if securityhub is not None and not (region and account_id):
            raise PublishError("Security Hub publishing needs the region and account id of the importing account")

    @property
    def sinks(self) -> tuple[str, ...]:
        out = []
        if self.events is not None:
            out.append(Sink.EVENTBRIDGE.value)
        if self.sns is not None and self.topic_arn:
            out.append(Sink.SNS.value)
        if self.securityhub is not None:
            out.append(Sink.SECURITY_HUB.value)
        return tuple(out)

    def publish(self, items: Sequence[OutboxItem]) -> dict[tuple[str, str], tuple[str, ...]]:
        """Deliver each item to the sinks it still needs; (detection, fingerprint) → sinks still pending."""
        remaining: dict[tuple[str, str], list[str]] = {
            (o.detection_id, o.fingerprint): [s for s in o.sinks if s in self.sinks] for o in items}
        for sink in self.sinks:
            todo = [o for o in items if sink in remaining[(o.detection_id, o.fingerprint)]]
            if not todo:
                continue
            details = [o.detail for o in todo]
            if sink == Sink.EVENTBRIDGE:
                ok = put_events(self.events, details, self.bus_name, sleep=self.sleep)
            elif sink == Sink.SNS:
                ok = publish_sns(self.sns, str(self.topic_arn), details, sleep=self.sleep)
            else:
                ok = import_security_hub(self.securityhub, details, region=str(self.region),
                                         account_id=str(self.account_id), sleep=self.sleep)
            for o in todo:
                if ok.get(o.fingerprint):
                    remaining[(o.detection_id, o.fingerprint)].remove(sink)
        return {k: tuple(v) for k, v in remaining.items()}
