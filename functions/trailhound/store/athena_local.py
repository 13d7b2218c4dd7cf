"""A DuckDB table shaped like the Athena CloudTrail table, for parity tests and offline trials.

The same raw CloudTrail files that the local (Lake-shaped) store ingests are loaded here the way
Athena's JSON SerDe reads them with the documented DDL: ``eventtime`` stays ISO-8601 text, the
detail maps stay raw JSON text, ``readonly`` is text, ``resources`` rows have no ``arnprefix``,
``addendum`` is a struct, and the projected partition column ``timestamp`` holds the
``yyyy/MM/dd`` folder of the log file (the delivery day: eventTime plus a delivery delay, so
events just before midnight land in the next day's folder, as they do in S3). ``region`` and
``account`` partition columns (the org-trail layout) are there too.

Queries go through exactly the Athena engine's compile step (bind → Athena rewrite), then
sqlglot's Trino → DuckDB translation with the project's gap rewrites.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

import duckdb
from sqlglot import exp

from trailhound.errors import SqlError, UserInputError
from trailhound.sql.athena import DEFAULT_DELIVERY_SLACK, AthenaTable, to_athena
from trailhound.sql.params import bind, table_identifier
from trailhound.sql.translate import to_duckdb
from trailhound.store._remote import normalize_params, window_of
from trailhound.store.base import Engine, QueryResult

TABLE = "cloudtrail_logs_pp"
DEFAULT_DELIVERY_DELAY = dt.timedelta(minutes=5)
_S = "VARCHAR"
_ISSUER = "ROW(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, username VARCHAR)"
# The documented DDL in Trino's type syntax (lowercase names, as Athena reports them).
ATHENA_TABLE_COLUMNS: list[tuple[str, str]] = [
    ("eventversion", _S),
    ("useridentity",
     "ROW(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, invokedby VARCHAR, "
     "accesskeyid VARCHAR, username VARCHAR, onbehalfof ROW(userid VARCHAR, identitystorearn VARCHAR), "
     "sessioncontext ROW(attributes ROW(mfaauthenticated VARCHAR, creationdate VARCHAR), "
     f"sessionissuer {_ISSUER}, ec2roledelivery VARCHAR, "
     "webidfederationdata ROW(federatedprovider VARCHAR, attributes MAP(VARCHAR, VARCHAR))))"),
    ("eventtime", _S), ("eventsource", _S), ("eventname", _S), ("awsregion", _S),
    ("sourceipaddress", _S), ("useragent", _S), ("errorcode", _S), ("errormessage", _S),
    ("requestparameters", _S), ("responseelements", _S), ("additionaleventdata", _S),
    ("requestid", _S), ("eventid", _S), ("readonly", _S),
    ("resources", "ARRAY(ROW(arn VARCHAR, accountid VARCHAR, type VARCHAR))"),
    ("eventtype", _S), ("apiversion", _S), ("recipientaccountid", _S), ("serviceeventdetails", _S),
    ("sharedeventid", _S), ("vpcendpointid", _S), ("vpcendpointaccountid", _S), ("eventcategory", _S),
    ("addendum", "ROW(reason VARCHAR, updatedfields VARCHAR, originalrequestid VARCHAR, originaleventid VARCHAR)"),
    ("sessioncredentialfromconsole", _S), ("edgedevicedetails", _S),
    ("tlsdetails", "ROW(tlsversion VARCHAR, ciphersuite VARCHAR, clientprovidedhostheader VARCHAR)"),
]
PARTITION_COLUMNS: list[tuple[str, str]] = [("timestamp", _S), ("region", _S), ("account", _S)]


def _duck_type(trino_type: str) -> str:
    return exp.DataType.build(trino_type, dialect="trino").sql(dialect="duckdb")


_JSON_TEXT = ("requestParameters", "responseElements", "additionalEventData", "serviceEventDetails",
              "edgeDeviceDetails")
# One raw record as json_transform reads it (keys are case-sensitive, as CloudTrail writes them).
_RAW: dict[str, Any] = {
    "eventVersion": _S,
    "userIdentity": {
        **{k: _S for k in ("type", "principalId", "arn", "accountId", "invokedBy", "accessKeyId", "userName")},
        "onBehalfOf": {"userId": _S, "identityStoreArn": _S},
        "sessionContext": {
            "attributes": {"mfaAuthenticated": _S, "creationDate": _S},
            "sessionIssuer": {k: _S for k in ("type", "principalId", "arn", "accountId", "userName")},
            "ec2RoleDelivery": _S,
            "webIdFederationData": {"federatedProvider": _S, "attributes": "MAP(VARCHAR, VARCHAR)"},
        },
    },
    **{k: _S for k in ("eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress", "userAgent",
                       "errorCode", "errorMessage", "requestID", "eventID", "readOnly", "eventType",
                       "apiVersion", "recipientAccountId", "sharedEventID", "vpcEndpointId",
                       "vpcEndpointAccountId", "eventCategory", "sessionCredentialFromConsole")},
    **{k: "JSON" for k in _JSON_TEXT},
    "resources": [{"ARN": _S, "accountId": _S, "type": _S}],
    "addendum": {"reason": _S, "updatedFields": _S, "originalRequestID": _S, "originalEventID": _S},
    "tlsDetails": {"tlsVersion": _S, "cipherSuite": _S, "clientProvidedHostHeader": _S},
}
_RAW_NAME = {name.lower(): name for name in _RAW}


def _json_text(field: str) -> str:
    """JSON value → the text Athena's JSON SerDe gives a STRING column (strings unquoted)."""
    v = f'r."{field}"'
    return (f"CASE json_type({v}) WHEN 'NULL' THEN NULL WHEN 'VARCHAR' THEN {v} ->> '$' "
            f"ELSE CAST({v} AS VARCHAR) END")


def create_table_sql(table: str = TABLE) -> str:
    cols = ATHENA_TABLE_COLUMNS + PARTITION_COLUMNS
    return (f"CREATE TABLE IF NOT EXISTS {table} (\n  "
            + ",\n  ".join(f'"{n}" {_duck_type(t)}' for n, t in cols) + "\n)")


def table_types(table: str = TABLE) -> dict[str, list[tuple[str, str]]]:
    """The Athena table's columns as DuckDB types, for the translator's type inference."""
    return {table: [(n, _duck_type(t)) for n, t in ATHENA_TABLE_COLUMNS + PARTITION_COLUMNS]}


def _select_sql(delay: dt.timedelta) -> str:
    exprs = []
    for name, typ in ATHENA_TABLE_COLUMNS:
        raw = _RAW_NAME[name]
        if raw in _JSON_TEXT:
            value = _json_text(raw)
        else:
            value = f'CAST(r."{raw}" AS {_duck_type(typ)})'
        exprs.append(f'{value} AS "{name}"')
    seconds = int(delay.total_seconds())
    exprs.append("strftime(CAST(r.\"eventTime\" AS TIMESTAMPTZ) + to_seconds(" + str(seconds) + "), '%Y/%m/%d') "
                 'AS "timestamp"')
    exprs.append('r."awsRegion" AS "region"')
    exprs.append('r."recipientAccountId" AS "account"')
    return ",\n  ".join(exprs)


class AthenaLocalStore:
    """An Athena-shaped DuckDB table queried through the Athena engine's rewrite."""

    engine = Engine.ATHENA

    def __init__(self, path: str = ":memory:", *, table: str = TABLE,
                 delivery_delay: dt.timedelta = DEFAULT_DELIVERY_DELAY,
                 delivery_slack: dt.timedelta = DEFAULT_DELIVERY_SLACK):
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", table):
            raise UserInputError(f"table {table!r} is not a valid table name")
        self.path = path
        self.con = duckdb.connect(path)
        self.con.execute("SET TimeZone = 'UTC'")
        self.table = AthenaTable(table=table, delivery_slack=delivery_slack)
        self.delivery_delay = delivery_delay
        self.con.execute(create_table_sql(table))

    @property
    def name(self) -> str:
        return f"athena-local:{self.path}"

    def close(self) -> None:
        self.con.close()

    # -- loading ---------------------------------------------------------------------------------
    def ingest(self, paths: Iterable[str | os.PathLike[str]]) -> int:
        """Load CloudTrail files (delivery files, JSON Lines, lookup-events output); returns records added."""
        from pathlib import Path

        from trailhound.store.inputs import find_files, iter_records

        records: list[dict[str, Any]] = []
        for f in find_files(paths):
            records.extend(iter_records(Path(f)))
        return self.load_records(records)

    def load_records(self, records: Iterable[Mapping[str, Any]]) -> int:
        rows = [(json.dumps(r),) for r in records if isinstance(r, Mapping) and r.get("eventID")]
        if not rows:
            return 0
        con = self.con
        con.execute("CREATE OR REPLACE TEMP TABLE _raw (j VARCHAR)")
        con.executemany("INSERT INTO _raw VALUES (?)", rows)
        # The table name is a validated identifier; the records and the schema are bound values.
        t, select = self.table.table, _select_sql(self.delivery_delay)
        new_only = f'NOT EXISTS (SELECT 1 FROM {t} x WHERE x.eventid = r."eventID")'  # noqa: S608
        con.execute(f"INSERT INTO {t} SELECT {select} FROM (SELECT json_transform(j::JSON, ?) AS r FROM _raw) "  # noqa: S608
                    f"WHERE {new_only}", [json.dumps(_RAW)])
        con.execute("DROP TABLE _raw")
        return len(rows)

    # -- EventStore ------------------------------------------------------------------------------
    def athena_sql(self, sql: str, params: Mapping[str, Any] | None = None) -> str:
        """The SQL the Athena engine would send (for this table name)."""
        values = normalize_params(params)
        bound = bind(sql, values, table=table_identifier(self.table.table))
        return to_athena(bound, self.table, window=window_of(values))

    def compile(self, sql: str, params: Mapping[str, Any] | None = None) -> str:
        """The Athena SQL, translated to DuckDB (sqlglot + the project's gap rewrites)."""
        return self.translate(self.athena_sql(sql, params))

    def translate(self, athena_sql: str) -> str:
        """Athena SQL (from :meth:`athena_sql`) → DuckDB SQL for this table."""
        return to_duckdb(athena_sql, tables=table_types(self.table.table))

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        return self.execute(self.compile(sql, params))

    def execute(self, compiled: str) -> QueryResult:
        """Run SQL already translated to DuckDB (the output of :meth:`compile`)."""
        started = time.perf_counter()
        try:
            cur = self.con.execute(compiled)
            columns = [d[0] for d in cur.description or []]
            rows = [dict(zip(columns, r, strict=True)) for r in cur.fetchall()]
        except duckdb.Error as exc:
            raise SqlError(f"query failed on the Athena-shaped local table: {str(exc).splitlines()[0]}") from exc
        return QueryResult(columns=columns, rows=rows, sql=compiled, elapsed_s=time.perf_counter() - started)
