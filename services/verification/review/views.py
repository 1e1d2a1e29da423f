"""Staff routes: ``listReviewQueue``, ``getCaseForReview``, ``decideCase``; support's view, notes, escalation."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from mamori_common.db import SessionDep
from mamori_common.idempotency import IdempotencyKey
from mamori_common.pagination import PAGE_RESPONSES, PageDep
from services.verification.cases import checklist
from services.verification.cases import service as case_service
from services.verification.cases.models import Case
from services.verification.cases.schemas import CaseDetail, CaseSummary, TimelineView
from services.verification.context import EnvDep, VerificationEnv
from services.verification.deps import CaseId, Specialist, Staff
from services.verification.documents.models import Document
from services.verification.idempotent import run_once
from services.verification.review import flows
from services.verification.review.schemas import (
    DecisionRequest,
    NoteRequest,
    Queue,
    QueueItem,
    ReviewDetail,
    SupplementView,
    SupportDetail,
)

router = APIRouter(prefix="/api/verification/staff", tags=["verification staff"])


@router.get(
    "/queue",
    operation_id="listReviewQueue",
    response_model=Queue,
    summary="Cases staff owe a step on, by promised time, with what changed since the last review",
    description="Paged: follow `next` with `cursor` (see `limit`).",
    responses=PAGE_RESPONSES,
)
def list_review_queue(staff: Staff, db: SessionDep, page: PageDep) -> Queue:
    items = []
    cases = flows.queue(db, page)
    for case in cases.items:
        items.append(
            QueueItem(
                **CaseSummary.fields_of(case),
                account_id=case.account_id,
                needs_staff=case.needs_staff,
                outstanding=checklist.outstanding(case.items),
                changes_since_review=[TimelineView.of(entry) for entry in flows.changes_since_review(case)],
                last_reviewed_at=case.last_reviewed_at,
            )
        )
    return Queue(items=items, next=cases.next)


@router.get(
    "/cases/{case_id}",
    operation_id="getCaseForReview",
    response_model=ReviewDetail,
    summary="A case with its documents, supplements and full timeline (specialists and admins)",
    description="Support staff get 403 here: they use getCaseForSupport, which has no documents.",
)
def get_case_for_review(case_id: CaseId, staff: Specialist, db: SessionDep, env: EnvDep) -> ReviewDetail:
    case = case_service.staff_case(db, case_id)
    flows.open_for_review(db, env, case, staff)
    db.commit()
    return _review_detail(db, env, case)


def _review_detail(db: Session, env: VerificationEnv, case: Case) -> ReviewDetail:
    documents = list(db.scalars(select(Document).where(Document.case_id == case.id).order_by(Document.uploaded_at)))
    detail = CaseDetail.build(case, documents, staff=True)
    return ReviewDetail(
        **detail.model_dump(),
        account_id=case.account_id,
        rounds_used=case.rounds,
        rounds_allowed=env.settings.rounds_before_final_rejection,
        rejection_proposed_by=case.rejection_proposed_by,
        supplements=[SupplementView(item=item.code, value=item.value) for item in case.items if item.value],
        holder_name=case.holder_name,
        held_amount=case.held_amount,
        currency=case.currency,
    )


@router.get(
    "/cases/{case_id}/status",
    operation_id="getCaseForSupport",
    response_model=SupportDetail,
    summary="State, checklist and timeline of a case, never its documents (any staff role)",
)
def get_case_for_support(case_id: CaseId, staff: Staff, db: SessionDep, env: EnvDep) -> SupportDetail:
    case = case_service.staff_case(db, case_id)
    flows.audit(case, staff, "status_viewed", "担当者が状況を確認", "Staff viewed the status", env.clock.now())
    db.commit()
    detail = CaseDetail.build(case, [], staff=True)
    return SupportDetail(**detail.model_dump(), account_id=case.account_id)


@router.post(
    "/cases/{case_id}/decision",
    operation_id="decideCase",
    response_model=ReviewDetail,
    summary="Approve, reject or request more, with a reason code the customer reads",
    description="422 `unknown_reason` for a code the catalogue does not give that decision; 409 "
    "`invalid_transition` when the case is not in review; 409 `second_specialist_required` "
    "when the specialist who proposed a final rejection tries to confirm it.",
)
def decide_case(
    case_id: CaseId, body: DecisionRequest, staff: Specialist, db: SessionDep, env: EnvDep, key: IdempotencyKey = None
) -> JSONResponse:
    def work() -> ReviewDetail:
        case = case_service.staff_case(db, case_id)
        flows.decide(db, env, case, staff, body)
        return _review_detail(db, env, case)

    return run_once(
        db,
        scope=staff.account_id,
        key=key,
        operation="decideCase",
        request={"case_id": case_id, **body.model_dump(mode="json")},
        now=env.clock.now(),
        status_code=200,
        work=work,
    )


@router.post(
    "/cases/{case_id}/notes",
    operation_id="addCaseNote",
    response_model=SupportDetail,
    status_code=201,
    summary="An internal note on a case (any staff role)",
)
def add_case_note(case_id: CaseId, body: NoteRequest, staff: Staff, db: SessionDep, env: EnvDep) -> SupportDetail:
    case = case_service.staff_case(db, case_id)
    flows.add_note(db, env, case, staff, body.note)
    db.commit()
    return get_case_for_support(case.id, staff, db, env)


@router.post(
    "/cases/{case_id}/escalation",
    operation_id="escalateCase",
    response_model=SupportDetail,
    summary="Hand the case to specialists with a note; it joins their queue (any staff role)",
)
def escalate_case(case_id: CaseId, body: NoteRequest, staff: Staff, db: SessionDep, env: EnvDep) -> SupportDetail:
    case = case_service.staff_case(db, case_id)
    flows.escalate(db, env, case, staff, body.note)
    db.commit()
    return get_case_for_support(case.id, staff, db, env)
