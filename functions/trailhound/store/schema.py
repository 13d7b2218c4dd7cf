"""The CloudTrail Lake event schema, as DuckDB types, for the local store.

Column names keep Lake's spelling; identifiers are case-insensitive in DuckDB as in Trino, so
Lake-dialect SQL (``userIdentity.sessionContext.sessionIssuer.arn``, ``eventtime``) runs as is.
``RAW_RECORD`` is the shape of one record as CloudTrail writes it (keys case-sensitive, ``ARN``
in ``resources``), used to read files; ``LAKE_COLUMNS`` is the table.
"""

from __future__ import annotations

STR = "VARCHAR"
MAP = "MAP(VARCHAR, VARCHAR)"

_ISSUER = "STRUCT(type VARCHAR, principalId VARCHAR, arn VARCHAR, accountId VARCHAR, userName VARCHAR)"
_SESSION_CONTEXT = (
    "STRUCT(attributes STRUCT(creationDate TIMESTAMP, mfaAuthenticated VARCHAR), "
    f"sessionIssuer {_ISSUER}, "
    f"webIdFederationData STRUCT(federatedProvider VARCHAR, attributes {MAP}), "
    "sourceIdentity VARCHAR, ec2RoleDelivery VARCHAR, ec2IssuedInVpc VARCHAR)"
)
USER_IDENTITY = (
    "STRUCT(type VARCHAR, principalId VARCHAR, arn VARCHAR, accountId VARCHAR, accessKeyId VARCHAR, "
    f"userName VARCHAR, sessionContext {_SESSION_CONTEXT}, "
    "onBehalfOf STRUCT(userId VARCHAR, identityStoreArn VARCHAR), "
    "inScopeOf STRUCT(sourceArn VARCHAR, sourceAccount VARCHAR, issuerType VARCHAR, credentialsIssuedTo VARCHAR), "
    "invokedBy VARCHAR, identityProvider VARCHAR)"
)
RESOURCES = "STRUCT(accountId VARCHAR, type VARCHAR, arn VARCHAR, arnPrefix VARCHAR)[]"
TLS = "STRUCT(tlsVersion VARCHAR, cipherSuite VARCHAR, clientProvidedHostHeader VARCHAR)"

# (name, DuckDB type) in Lake's column order.
LAKE_COLUMNS: list[tuple[str, str]] = [
    ("eventVersion", STR),
    ("userIdentity", USER_IDENTITY),
    ("eventTime", "TIMESTAMP"),
    ("eventSource", STR),
    ("eventName", STR),
    ("awsRegion", STR),
    ("sourceIPAddress", STR),
    ("userAgent", STR),
    ("errorCode", STR),
    ("errorMessage", STR),
    ("requestParameters", MAP),
    ("responseElements", MAP),
    ("additionalEventData", MAP),
    ("requestID", STR),
    ("eventID", STR),
    ("readOnly", "BOOLEAN"),
    ("resources", RESOURCES),
    ("eventType", STR),
    ("apiVersion", STR),
    ("managementEvent", "BOOLEAN"),
    ("recipientAccountId", STR),
    ("sharedEventID", STR),
    ("annotation", STR),
    ("vpcEndpointId", STR),
    ("vpcEndpointAccountId", STR),
    ("serviceEventDetails", MAP),
    ("addendum", MAP),
    ("edgeDeviceDetails", MAP),
    ("insightDetails", MAP),
    ("eventCategory", STR),
    ("tlsDetails", TLS),
    ("sessionCredentialFromConsole", STR),
    ("eventJson", STR),
    ("eventJsonChecksum", STR),
]
COLUMN_NAMES = [c for c, _ in LAKE_COLUMNS]
EVENTS_TABLE = "events"
# Storage hints (not part of the type). The whole-record JSON text is most of the bytes: zstd
# makes it ~8x smaller and costs less CPU at load than DuckDB's default string compression.
# eventID and requestID are unique per record: no dictionary applies, and FSST (the default's
# fallback) won ~1.8x on 72 bytes a record for ~4% of the load's CPU (valgrind instruction
# counts); stored as they are, a store is ~12% larger (1M events: ~34 MB) and scans them
# without decoding (each ingest batch looks up its eventIDs in the whole table).
COLUMN_STORAGE = {
    "eventJson": "USING COMPRESSION zstd",
    "eventID": "USING COMPRESSION uncompressed",
    "requestID": "USING COMPRESSION uncompressed",
}


def create_table_sql(table: str = EVENTS_TABLE) -> str:
    cols = ",\n  ".join(f'"{name}" {typ} {COLUMN_STORAGE.get(name, "")}'.rstrip() for name, typ in LAKE_COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {cols}\n)"
