"""Routes: ``beginPasskeyRegistration``, ``finishPasskeyRegistration``, ``listPasskeys``,
``renamePasskey``, ``deletePasskey``, ``beginPasskeySignIn``, ``finishPasskeySignIn``,
``setPasskeyRequired``.

Registering, removing and "passkey required" need a sign-in within the last minutes (401
``reauthentication_required``); listing and renaming need a live session; the two sign-in routes
are open to anyone and throttled per client address like ``login`` (the gate answers a waiting
address before routing).
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from mamori_common.clock import ClockDep
from mamori_common.db import SessionDep
from mamori_common.path_ids import PathId
from mamori_common.problems import PROBLEM_MEDIA_TYPE
from services.auth.deps import CurrentAccount, RecentSession, RequestContextDep
from services.auth.env import EnvDep
from services.auth.passkeys import flows, service
from services.auth.passkeys.models import Passkey
from services.auth.passkeys.schemas import (
    CeremonyStarted,
    EmptyRequest,
    FinishRegistrationRequest,
    FinishSignInRequest,
    PasskeyAdded,
    PasskeyList,
    PasskeyRequired,
    PasskeyView,
    RenamePasskeyRequest,
    SetPasskeyRequiredRequest,
)
from services.auth.sessions.schemas import TokenResponse
from services.auth.signin import devices
from services.auth.signin.factors import SignInEnv

router = APIRouter(prefix="/api/auth", tags=["auth"])

PasskeyId = PathId


def _env(request: Request) -> SignInEnv:
    return SignInEnv.of(request.app)


SignInEnvDep = Annotated[SignInEnv, Depends(_env)]


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {}}}


def passkey_view(passkey: Passkey) -> PasskeyView:
    return PasskeyView(
        id=passkey.id,
        name=passkey.name,
        created_at=passkey.created_at,
        last_used_at=passkey.last_used_at,
        backed_up=passkey.backed_up,
        transports=list(passkey.transports or []),
    )


@router.post(
    "/passkeys/registration/options",
    operation_id="beginPasskeyRegistration",
    response_model=CeremonyStarted,
    summary="Start adding a passkey: creation options for navigator.credentials.create()",
    description=(
        "Needs a recent sign-in (401 `reauthentication_required`). 403 `account_restricted` unless the account "
        "may change its sign-in settings; 409 `too_many_passkeys`. The options exclude the account's passkeys "
        "and ask for a discoverable credential."
    ),
    responses={401: _problem("reauthentication_required"), 403: _problem("account_restricted")},
)
def begin_passkey_registration(
    db: SessionDep, session: RecentSession, account: CurrentAccount, env: EnvDep, body: EmptyRequest | None = None
) -> CeremonyStarted:
    ceremony, options = flows.begin_registration(db, env, account, session=session)
    db.commit()
    return CeremonyStarted(ceremony_id=ceremony.id, expires_at=ceremony.expires_at, options=options)


@router.post(
    "/passkeys/registration",
    operation_id="finishPasskeyRegistration",
    status_code=status.HTTP_201_CREATED,
    response_model=PasskeyAdded,
    summary="Finish adding a passkey with the browser's credential; the address gets a notice with a revert code",
    description=(
        "404 `ceremony_expired` for a ceremony this account never opened (unknown, or another account's), 410 "
        "for one of its own that is used or expired; 422 `passkey_invalid` "
        "(origin, rp id, challenge, user presence or verification, attestation: any check failed); 409 "
        "`passkey_exists` (this credential is registered already). The ceremony is spent either way. An account "
        "with neither TOTP nor unused recovery codes gets a set in `recovery_codes`, shown only now."
    ),
    responses={
        409: _problem("passkey_exists, too_many_passkeys"),
        404: _problem("ceremony_expired: not a ceremony of this account"),
        410: _problem("ceremony_expired: used or expired"),
        422: _problem("passkey_invalid, validation_error"),
    },
)
def finish_passkey_registration(
    body: FinishRegistrationRequest,
    db: SessionDep,
    session: RecentSession,
    account: CurrentAccount,
    context: RequestContextDep,
    env: EnvDep,
) -> PasskeyAdded:
    passkey = flows.finish_registration(
        db,
        env,
        account,
        ceremony_id=body.ceremony_id,
        credential=body.credential,
        name=body.name,
        session=session,
        context=context,
    )
    codes = flows.recovery_codes_for_new_passkey(db, env, account)
    db.commit()
    return PasskeyAdded(**passkey_view(passkey).model_dump(), recovery_codes=codes)


@router.get("/passkeys", operation_id="listPasskeys", response_model=PasskeyList, summary="The account's passkeys")
def list_passkeys(db: SessionDep, account: CurrentAccount) -> PasskeyList:
    return PasskeyList(passkeys=[passkey_view(item) for item in service.active_passkeys(db, account.id)])


@router.patch(
    "/passkeys/{passkey_id}",
    operation_id="renamePasskey",
    response_model=PasskeyView,
    summary="Rename one of the account's passkeys",
    responses={404: _problem("not_found: unknown, removed or another account's passkey")},
)
def rename_passkey(
    passkey_id: PasskeyId,
    body: RenamePasskeyRequest,
    db: SessionDep,
    account: CurrentAccount,
    context: RequestContextDep,
    clock: ClockDep,
) -> PasskeyView:
    passkey = flows.rename(db, account, passkey_id, body.name, context=context, now=clock.now())
    db.commit()
    return passkey_view(passkey)


@router.delete(
    "/passkeys/{passkey_id}",
    operation_id="deletePasskey",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a passkey; the address gets a notice with a revert code",
    description=(
        "Needs a recent sign-in. 404 `not_found` for an unknown, removed or another account's passkey. Removing "
        'the last passkey turns "passkey required" off.'
    ),
    responses={404: _problem("not_found")},
)
def delete_passkey(
    passkey_id: PasskeyId,
    db: SessionDep,
    session: RecentSession,
    account: CurrentAccount,
    context: RequestContextDep,
    env: EnvDep,
) -> Response:
    flows.remove(db, env, account, passkey_id, session=session, context=context)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/me/passkey-required",
    operation_id="setPasskeyRequired",
    response_model=PasskeyRequired,
    summary='Turn "passkey required" on or off: on, a password alone never signs in',
    description=(
        "Needs a recent sign-in. 409 `no_passkey` when turning it on without a passkey. Turning it on without "
        "unused recovery codes issues a fresh set, answered once."
    ),
    responses={409: _problem("no_passkey")},
)
def set_passkey_required(
    body: SetPasskeyRequiredRequest,
    db: SessionDep,
    session: RecentSession,
    account: CurrentAccount,
    context: RequestContextDep,
    env: EnvDep,
) -> PasskeyRequired:
    codes = flows.set_required(db, env, account, body.required, session=session, context=context)
    db.commit()
    return PasskeyRequired(required=account.passkey_required, recovery_codes=codes)


@router.post(
    "/passkeys/sign-in/options",
    operation_id="beginPasskeySignIn",
    response_model=CeremonyStarted,
    summary="Start signing in with a passkey: request options for navigator.credentials.get()",
    description="No e-mail needed: the passkey names its account. 429 `rate_limited` per client address.",
    responses={429: _problem("rate_limited with Retry-After")},
)
def begin_passkey_sign_in(
    db: SessionDep, env: SignInEnvDep, context: RequestContextDep, body: EmptyRequest | None = None
) -> CeremonyStarted:
    ceremony, options = flows.begin_sign_in(db, env, context=context)
    return CeremonyStarted(ceremony_id=ceremony.id, expires_at=ceremony.expires_at, options=options)


@router.post(
    "/passkeys/sign-in",
    operation_id="finishPasskeySignIn",
    response_model=TokenResponse,
    summary="Sign in with a passkey alone (it verified the user: no password, no further step-up)",
    description=(
        "401 `passkey_invalid` for every failure (unknown credential, bad signature, wrong origin or rp id, "
        "replayed or expired ceremony); 401 `passkey_cloned` when the signature counter went backwards (a "
        "security event is kept); 423 `account_locked`; 403 `account_closed`; 429 `rate_limited`."
    ),
    responses={
        401: _problem("passkey_invalid, passkey_cloned"),
        403: _problem("account_closed"),
        423: _problem("account_locked"),
        429: _problem("rate_limited with Retry-After"),
    },
)
def finish_passkey_sign_in(
    body: FinishSignInRequest, db: SessionDep, env: SignInEnvDep, context: RequestContextDep
) -> TokenResponse:
    if body.device_token:
        context = dataclasses.replace(context, device_token=body.device_token)
    context = devices.recognised(db, devices.signer_of(env.encryptor), context)
    pair = flows.finish_sign_in_with_passkey(
        db, env, ceremony_id=body.ceremony_id, credential=body.credential, context=context
    )
    return TokenResponse.from_pair(pair)
