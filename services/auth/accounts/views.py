"""Routes: ``register`` and ``getMe``."""

from __future__ import annotations

import json

from fastapi import APIRouter, status

from mamori_common.db import SessionDep
from services.auth.accounts import service
from services.auth.accounts.models import Account
from services.auth.accounts.schemas import AccountView, RegisterRequest, RegisterResponse
from services.auth.deps import CurrentAccount, PasswordsDep

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post(
    "/accounts",
    operation_id="register",
    status_code=status.HTTP_201_CREATED,
    response_model=RegisterResponse,
    summary="Create a customer account",
)
def register(body: RegisterRequest, db: SessionDep, passwords: PasswordsDep) -> RegisterResponse:
    account = service.create_account(
        db, passwords, email=str(body.email), password=body.password, name=body.name, language=body.language
    )
    db.commit()
    return RegisterResponse(account_id=account.id)


def account_view(account: Account) -> AccountView:
    return AccountView(
        account_id=account.id,
        email=account.email,
        name=account.name,
        language=account.language,
        role=account.role,
        state=account.state,
        state_reason=account.state_reason,
        case_id=account.state_case_id,
        locked_until=account.locked_until,
        totp_enabled=account.totp_enabled,
        recheck_items=json.loads(account.recheck_items) if account.recheck_items else [],
        created_at=account.created_at,
    )


@router.get("/me", operation_id="getMe", response_model=AccountView, summary="The signed-in account")
def get_me(account: CurrentAccount) -> AccountView:
    return account_view(account)
