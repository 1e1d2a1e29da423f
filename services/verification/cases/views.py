"""Customer routes: ``listCases``, ``getCase``, ``addSupplement``, ``requestCallback``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select

from mamori_common.db import SessionDep
from mamori_common.idempotency import IdempotencyKey
from mamori_common.pagination import PAGE_RESPONSES, PageDep
from services.verification.cases import flows, schemas, service
from services.verification.context import EnvDep
from services.verification.deps import CaseId, Customer
from services.verification.documents.models import Document
from services.verification.idempotent import run_once

router = APIRouter(prefix="/api/verification", tags=["verification"])


@router.get(
    "/cases",
    operation_id="listCases",
    response_model=schemas.CaseList,
    summary="Your cases, newest first, each with its number and state",
    description="Paged: follow `next` with `cursor` (see `limit`).",
    responses=PAGE_RESPONSES,
)
def list_cases(principal: Customer, db: SessionDep, page: PageDep) -> schemas.CaseList:
    cases = service.cases_of(db, principal.account_id, page)
    return schemas.CaseList(items=[schemas.CaseSummary.of(case) for case in cases.items], next=cases.next)


@router.get(
    "/cases/{case_id}",
    operation_id="getCase",
    response_model=schemas.CaseDetail,
    summary="One of your cases: checklist, promised time and timeline",
    description="Another customer's case, or an unknown id, is 404 `case_not_found`.",
)
def get_case(case_id: CaseId, principal: Customer, db: SessionDep) -> schemas.CaseDetail:
    case = service.customer_case(db, principal.account_id, case_id)
    documents = list(db.scalars(select(Document).where(Document.case_id == case.id).order_by(Document.uploaded_at)))
    return schemas.CaseDetail.build(case, documents)


@router.post(
    "/cases/{case_id}/supplements",
    operation_id="addSupplement",
    response_model=schemas.CaseDetail,
    summary="Type in what the statement lacks (billing name, address, cardholder phone)",
    description="422 `card_number_visible` if the text holds a full card number (nothing is kept); "
    "409 `case_not_open` once the case is decided.",
)
def add_supplement(
    case_id: CaseId,
    body: schemas.SupplementRequest,
    principal: Customer,
    db: SessionDep,
    env: EnvDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    def work() -> schemas.CaseDetail:
        case = flows.add_supplement(
            db, env, account_id=principal.account_id, case_id=case_id, item=body.item, value=body.value
        )
        return get_case(case.id, principal, db)

    return run_once(
        db,
        scope=principal.account_id,
        key=key,
        operation="addSupplement",
        request={"case_id": case_id, **body.model_dump(mode="json")},
        now=env.clock.now(),
        status_code=200,
        work=work,
    )


@router.post(
    "/callbacks",
    operation_id="requestCallback",
    response_model=schemas.CaseDetail,
    status_code=201,
    summary="Ask for a phone call, about a case of yours or a new matter",
    description="With `case_id` the request joins that case (and the staff queue); without, a callback case is opened.",
)
def request_callback(
    body: schemas.CallbackRequest, principal: Customer, db: SessionDep, env: EnvDep, key: IdempotencyKey = None
) -> JSONResponse:
    def work() -> schemas.CaseDetail:
        case = flows.request_callback(
            db, env, account_id=principal.account_id, case_id=body.case_id, phone=body.phone, note=body.note
        )
        return get_case(case.id, principal, db)

    return run_once(
        db,
        scope=principal.account_id,
        key=key,
        operation="requestCallback",
        request=body.model_dump(mode="json"),
        now=env.clock.now(),
        status_code=201,
        work=work,
    )
