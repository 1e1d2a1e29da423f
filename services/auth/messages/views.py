"""Routes of the message centre: ``listMessages`` and ``verifyMessage``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mamori_common.db import SessionDep
from mamori_common.problems import PROBLEM_MEDIA_TYPE
from services.auth.deps import CurrentAccount, SettingsDep
from services.auth.messages import flows, service
from services.auth.messages.schemas import (
    PAGE_MAX,
    MessageItem,
    MessageList,
    VerifyMessageRequest,
    VerifyMessageResponse,
)

router = APIRouter(prefix="/api/auth", tags=["auth"])

_PROBLEM = {"content": {PROBLEM_MEDIA_TYPE: {}}}


@router.get(
    "/messages",
    operation_id="listMessages",
    response_model=MessageList,
    summary="The signed-in customer's message centre, newest first",
    description="Every message Mamori sent this account, from any service, with its reference code. "
    "One-time codes are masked here; they appear only in the mail.",
    responses={401: {"description": "Not signed in", **_PROBLEM}},
)
def list_messages(
    account: CurrentAccount,
    db: SessionDep,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> MessageList:
    messages, total = service.list_messages(db, account.id, limit=limit, offset=offset)
    items = [
        MessageItem(
            id=message.id,
            reference_code=message.reference_code,
            subject=message.subject,
            body=message.body,
            language=message.language,
            created_at=message.created_at,
            source_service=message.source_service,
            mailed_at=message.mailed_at,
        )
        for message in messages
    ]
    return MessageList(items=items, total=total, limit=limit, offset=offset)


@router.post(
    "/messages/verify",
    operation_id="verifyMessage",
    response_model=VerifyMessageResponse,
    summary="Tell whether Mamori sent a mail (by reference code or pasted text) to this account",
    description="Send `reference_code` or `text` (the whole mail). A code of another account's message "
    "answers `not_for_you` and reveals nothing else.",
    responses={
        401: {"description": "Not signed in", **_PROBLEM},
        413: {"description": "The pasted text is too long (`text_too_long`)", **_PROBLEM},
    },
)
def verify_message(
    body: VerifyMessageRequest, account: CurrentAccount, db: SessionDep, settings: SettingsDep
) -> VerifyMessageResponse:
    return flows.verify_message(
        db,
        account,
        reference_code=body.reference_code,
        text=body.text,
        max_text_bytes=settings.verify_message_max_text_bytes,
    )
