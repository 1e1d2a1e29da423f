"""``uploadDocument`` (customers, their own case) and ``downloadDocument`` (specialists only)."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from mamori_common.db import SessionDep
from mamori_common.idempotency import IdempotencyKey
from mamori_common.problems import Problem
from services.verification.cases import service as case_service
from services.verification.cases.schemas import DocumentView
from services.verification.context import EnvDep
from services.verification.deps import CaseId, Customer, DocumentId, Specialist
from services.verification.documents import flows
from services.verification.documents.blob_stores import BlobMissing
from services.verification.documents.models import Document
from services.verification.documents.receiving import read_upload
from services.verification.idempotent import run_once

router = APIRouter(prefix="/api/verification", tags=["verification"])

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A PDF, PNG or JPEG, at most 10 MB and 10 pages.",
                        }
                    },
                },
                # What the service accepts, recognised by the file's bytes (not by this part's type).
                "encoding": {"file": {"contentType": "application/pdf, image/png, image/jpeg"}},
            }
        },
    }
}


@router.post(
    "/cases/{case_id}/documents",
    operation_id="uploadDocument",
    response_model=DocumentView,
    status_code=201,
    openapi_extra=_UPLOAD_BODY,
    summary="Upload a statement (multipart, field `file`): scanned for full card numbers before it is kept",
    description=(
        "PDF, PNG or JPEG, recognised by their bytes; at most 10 MB and 10 pages. Refused, with nothing kept: "
        "415 `unsupported_file`, 413 `file_too_large`, 422 `empty_file`, `file_encrypted`, `file_corrupt`, "
        "`decompression_bomb`, `too_many_pages`, and `card_number_visible` (with the pages and how to hide the "
        "digits). The checklist is updated with what the statement shows."
    ),
)
async def upload_document(
    case_id: CaseId, request: Request, principal: Customer, db: SessionDep, env: EnvDep, key: IdempotencyKey = None
) -> JSONResponse:
    # Unknown or another customer's case: 404 before a byte of the file is read.
    await run_in_threadpool(case_service.customer_case, db, principal.account_id, case_id)
    upload = await read_upload(request, env.settings.max_upload_bytes)

    def work() -> DocumentView:
        document = flows.upload_document(db, env, account_id=principal.account_id, case_id=case_id, upload=upload)
        return DocumentView.of(document)

    request_seen = {"case_id": case_id, "filename": upload.filename, "sha256": hashlib.sha256(upload.data).hexdigest()}
    return await run_in_threadpool(
        run_once,
        db,
        scope=principal.account_id,
        key=key,
        operation="uploadDocument",
        request=request_seen,
        now=env.clock.now(),
        status_code=201,
        work=work,
    )


@router.get(
    "/staff/documents/{document_id}",
    operation_id="downloadDocument",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "image/png": {}, "image/jpeg": {}}}},
    summary="A stored document, decrypted (specialists and admins; support staff never see documents)",
)
def download_document(document_id: DocumentId, staff: Specialist, db: SessionDep, env: EnvDep) -> Response:
    document = db.get(Document, document_id) if len(document_id) <= 32 else None
    if document is None or document.purged_at is not None:
        raise Problem(404, "document_not_found", "There is no such document (or it was deleted after retention).")
    try:
        content = env.store.get(db, document.id, document.key_id)
    except BlobMissing:
        raise Problem(404, "document_not_found", "The stored copy of this document is missing.") from None
    case = case_service.staff_case(db, document.case_id)
    case_service.record(
        case,
        at=env.clock.now(),
        actor=staff.role,
        actor_id=staff.account_id,
        channel="staff",
        kind="document_viewed",
        summary_ja=f"書類「{document.filename}」を閲覧",
        summary_en=f'Viewed the document "{document.filename}"',
        visible_to_customer=False,
        details={"document_id": document.id},
    )
    db.commit()
    return Response(
        content,
        media_type=document.content_type,
        headers={
            "content-disposition": f'attachment; filename="{document.id}"',
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
        },
    )
