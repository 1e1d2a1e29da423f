"""Routes of the message centre: ``listMessages`` and ``verifyMessage``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from mamori_common.db import SessionDep
from mamori_common.pagination import PAGE_RESPONSES, PageDep
from mamori_common.problems import PROBLEM_MEDIA_TYPE
from mamori_common.quotas import rate_limited
from mamori_common.tokens import access_token_from
from services.auth import quotas
from services.auth.accounts.models import Account
from services.auth.deps import ClientIp, CurrentAccount, SettingsDep, current_account, current_session
from services.auth.messages import flows, service
from services.auth.messages.schemas import (
    MessageItem,
    MessageList,
    VerifyByCode,
    VerifyByText,
    VerifyMessageRequest,
    VerifyMessageResponse,
)

router = APIRouter(prefix="/api/auth", tags=["auth"])

_PROBLEM: dict[str, Any] = {"content": {PROBLEM_MEDIA_TYPE: {}}}


@router.get(
    "/messages",
    operation_id="listMessages",
    response_model=MessageList,
    summary="The signed-in customer's message centre, newest first",
    description="Every message Mamori sent this account, from any service, with its reference code. "
    "One-time codes are masked here; they appear only in the mail.",
    responses={401: {"description": "Not signed in", **_PROBLEM}, **PAGE_RESPONSES},
)
def list_messages(
    account: CurrentAccount,
    db: SessionDep,
    page: PageDep,
) -> MessageList:
    messages, total = service.list_messages(db, account.id, page)
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
        for message in messages.items
    ]
    return MessageList(items=items, total=total, next=messages.next)


def caller_if_signed_in(request: Request, db: SessionDep) -> Account | None:
    """The signed-in account, or None for a visitor who sent no token at all.

    A token that is sent but invalid or ended still answers 401: only its absence means "visitor".
    """
    token = access_token_from(request)
    if token is None:
        return None
    principal = request.app.state.token_verifier.verify(token)
    return current_account(db, current_session(db, principal))


def limit_visitor(request: Request, ip: str) -> None:
    wait = request.app.state.quotas.spend(quotas.visitor_message_checks(), ip)
    if wait:
        raise rate_limited(wait, "Too many checks from this address. Wait before trying again.")


@router.post(
    "/messages/verify",
    operation_id="verifyMessage",
    response_model=VerifyMessageResponse,
    summary="Tell whether Mamori sent a mail (pasted text, or only its reference code), and to this account",
    description="Send `text` (the whole mail, headers included) or `reference_code`. `genuine` only when signed "
    "in and the pasted text matches the message Mamori sent this account; a code alone answers "
    "`sent_compare` (signed in) or `issued` (signed out), never `genuine`. A foreign sender or a link to a "
    "host not Mamori's answers `suspicious` whatever the code. Signed in, a code of another account's "
    "message answers `not_for_you` and reveals nothing else. Without a token (a customer locked out of the "
    "account): never to whom or what a message said; limited per client address (429 `rate_limited`).",
    responses={
        401: {"description": "A token was sent but is invalid or its session ended", **_PROBLEM},
        413: {"description": "The pasted text is too long (`text_too_long`)", **_PROBLEM},
        429: {"description": "A visitor checked too many mails from this address (`rate_limited`)", **_PROBLEM},
    },
)
def verify_message(
    body: VerifyMessageRequest,
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    ip: ClientIp,
    account: Annotated[Account | None, Depends(caller_if_signed_in)],
) -> VerifyMessageResponse:
    if account is None:
        limit_visitor(request, ip)
    code = body.reference_code if isinstance(body, VerifyByCode) else None
    text = body.text if isinstance(body, VerifyByText) else None
    return flows.verify_message(db, account, settings=settings, reference_code=code, text=text)
