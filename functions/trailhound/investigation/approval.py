"""Answer a pending approval: ``trailhound approve|reject`` and the notebooks call this.

In AWS the investigation waits on a Step Functions task token kept in its record: the answer
is sent with ``SendTaskSuccess`` (a rejection too — the workflow routes it to notify rather
than failing). A local investigation paused by the local runner is resumed in-process.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from trailhound.errors import StoreError, UserInputError
from trailhound.investigation.records import InvestigationStore
from trailhound.output import to_jsonable


def answer(investigation_id: str, *, approved: bool, by: str, investigations: InvestigationStore,
           sfn_client: Any | None = None, resume_local: Any | None = None) -> dict[str, Any]:
    record = investigations.get(investigation_id)
    if record.get("status") != "pending_approval":
        raise UserInputError(f"investigation {investigation_id} is not waiting for approval "
                             f"(status: {record.get('status', 'unknown')})")
    if record.get("local_resume"):
        if resume_local is None:
            raise UserInputError(f"investigation {investigation_id} was paused by the local runner: answer it locally")
        return resume_local(investigation_id, approved=approved, by=by)  # type: ignore[no-any-return]
    token = record.get("task_token")
    if not token:
        raise UserInputError(f"investigation {investigation_id} has no task token to answer")
    if sfn_client is None:
        raise UserInputError("no Step Functions client to send the answer with")
    output = {"approved": approved, "by": by, "at": to_jsonable(dt.datetime.now(dt.UTC))}
    try:
        sfn_client.send_task_success(taskToken=token, output=json.dumps(output))
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        raise StoreError(f"investigation {investigation_id}: Step Functions refused the answer ({code})") from exc
    except BotoCoreError as exc:
        raise StoreError(f"investigation {investigation_id}: cannot reach Step Functions ({exc})") from exc
    return investigations.update(investigation_id, status="approval_answered", approval=output, task_token=None)
