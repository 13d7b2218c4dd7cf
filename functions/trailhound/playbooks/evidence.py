"""Reading evidence: the judgements a playbook makes on query results, kept out of the cells."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

ALL_BUCKETS = "(all buckets)"
_ACCOUNT = re.compile(r"(?<![0-9])([0-9]{12})(?![0-9])")


def flag_buckets(buckets: pd.DataFrame) -> pd.DataFrame:
    """Add ``foreign`` (owned by another account) and ``unfamiliar`` (foreign, or used by no other
    principal of the account in the window and never from the subject's own address) to the rows
    of the ``s3_by_bucket`` query. The account-wide listing row is neither."""
    df = buckets.copy()
    if not len(df):
        return df.assign(foreign=[], unfamiliar=[])
    named = df["bucket"] != ALL_BUCKETS
    foreign = df["bucket_owner"].notna() & (df["bucket_owner"] != df["account_id"])
    lonely = ~df["used_by_others"].astype(bool) & (df["from_home"] == 0)
    df["foreign"] = foreign & named
    df["unfamiliar"] = (foreign | lonely) & named
    return df


@dataclass(frozen=True)
class Exposure:
    """Who a resource policy or sharing change lets in."""

    public: bool = False
    accounts: list[str] = field(default_factory=list)
    statements: int = 0

    def markdown(self) -> str:
        if not (self.public or self.accounts):
            return "no public or other-account grant found in the latest change"
        parts = []
        if self.public:
            parts.append("**public** (anyone)")
        if self.accounts:
            parts.append("other account(s): " + ", ".join(f"`{a}`" for a in self.accounts))
        return "grants " + " and ".join(parts)


def exposure(detail: Any, own_account: str | None) -> Exposure:
    """Read a bucket policy, a snapshot's createVolumePermission or an image's launchPermission
    (as the request carried it) for public and other-account grants."""
    if detail is None or (isinstance(detail, float) and detail != detail):
        return Exposure()
    text = detail if isinstance(detail, str) else json.dumps(detail)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = None
    public = False
    statements = 0
    if isinstance(doc, dict) and "Statement" in doc:
        items = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
        for st in items:
            if not isinstance(st, dict) or st.get("Effect") != "Allow":
                continue
            statements += 1
            principal = st.get("Principal")
            aws = principal.get("AWS") if isinstance(principal, dict) else principal
            values = aws if isinstance(aws, list) else [aws]
            if "*" in values and not st.get("Condition"):
                public = True
    else:
        public = bool(re.search(r'"group"\s*:\s*"all"', text))
    accounts = sorted({a for a in _ACCOUNT.findall(text) if a != own_account})
    return Exposure(public=public, accounts=accounts, statements=statements)
