"""Routes: ``register``, ``getMe``, and the account-standing call other services make."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from mamori_common.clock import ClockDep
from mamori_common.contract import ACCOUNT_STANDING_PATH, STANDING_SESSION_PARAM, AccountStanding
from mamori_common.db import SessionDep
from mamori_common.path_ids import PathId
from mamori_common.problems import Problem
from mamori_common.service_auth import service_caller
from mamori_common.tokens import session_revoked
from services.auth.accounts import registration, service
from services.auth.accounts.models import Account
from services.auth.accounts.schemas import AccountView, RegisterRequest, RegisterResponse, RestrictionView
from services.auth.accounts.standing import Capability, Standing
from services.auth.deps import CurrentAccount, RequestContextDep
from services.auth.env import EnvDep
from services.auth.passkeys import service as passkey_service
from services.auth.sessions.models import Session

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post(
    "/accounts",
    operation_id="register",
    status_code=status.HTTP_201_CREATED,
    response_model=RegisterResponse,
    summary="Create a customer account",
    description=(
        "201 with the account id, the same answer (and time) whether the address is new or already has an "
        "account: then no account is made and its owner is mailed instead. 422 `weak_password`; 429 "
        "`rate_limited` with Retry-After past the per-client quota."
    ),
    responses={
        422: {"description": "weak_password or validation_error"},
        429: {"description": "rate_limited with Retry-After"},
    },
)
def register(body: RegisterRequest, db: SessionDep, env: EnvDep, context: RequestContextDep) -> RegisterResponse:
    account_id = registration.register(
        db,
        env,
        email=str(body.email),
        password=body.password,
        name=body.name,
        language=body.language,
        context=context,
    )
    return RegisterResponse(account_id=account_id)


def account_view(account: Account, current: Standing, *, passkeys: int = 0) -> AccountView:
    return AccountView(
        account_id=account.id,
        email=account.email,
        name=account.name,
        language=account.language,
        time_zone=account.time_zone,
        role=account.role,
        state=current.state,
        state_reason=current.reason,
        case_id=current.case_id,
        case_number=current.case_number,
        restrictions=[
            RestrictionView(case_id=item.case_id, case_number=item.case_number, kind=item.kind, reason=item.reason)
            for item in current.restrictions
        ],
        may=sorted(current.capabilities, key=list(Capability).index),
        locked_until=current.locked_until,
        totp_enabled=account.totp_enabled,
        passkey_required=account.passkey_required,
        passkeys=passkeys,
        recheck_items=json.loads(account.recheck_items) if account.recheck_items else [],
        created_at=account.created_at,
    )


@router.get("/me", operation_id="getMe", response_model=AccountView, summary="The signed-in account")
def get_me(account: CurrentAccount, db: SessionDep, clock: ClockDep) -> AccountView:
    count = passkey_service.count_active(db, account.id)
    return account_view(account, service.standing_for(db, account, now=clock.now()), passkeys=count)


internal_router = APIRouter(include_in_schema=False)

#: Who may ask an account's standing: orders, before it takes money or changes an order.
StandingAsker = Annotated[str, Depends(service_caller("orders"))]


@internal_router.get(ACCOUNT_STANDING_PATH, response_model=AccountStanding)
def get_account_standing(
    account_id: PathId,
    caller: StandingAsker,
    db: SessionDep,
    clock: ClockDep,
    session_id: Annotated[str | None, Query(alias=STANDING_SESSION_PARAM, min_length=1, max_length=64)] = None,
) -> AccountStanding:
    """May this account order, or change its contact details, now? (Other services; service token.)

    With the caller's ``session_id`` an ended session (or another account's) is ``401
    session_revoked``: a revocation the asking service has not heard of yet still stops the order.
    """
    account = db.get(Account, account_id)
    if account is None:
        raise Problem(404, "account_not_found", "There is no account with this id.")
    if session_id is not None:
        session = db.get(Session, session_id)
        if session is None or session.account_id != account.id or session.revoked_at is not None:
            raise session_revoked()
    current = service.standing_for(db, account, now=clock.now())
    return AccountStanding(
        account_id=account.id,
        state=current.state.value,
        can_order=current.may(Capability.order),
        can_change_contact=current.may(Capability.change_contact),
        restricting_case_ids=current.restricting_case_ids,
        name=account.name,
        time_zone=account.time_zone,
    )
