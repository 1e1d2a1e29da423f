"""``uploadDocument``: scan, and only then keep the rendering (encrypted) and update the checklist.

The order is the rule: nothing is written (no file, no row, no log line with content) until the
scan has passed; a refused upload changes nothing. Runs in a worker thread; the bomb caps and the
scan itself run in a child process with memory and CPU limits (scanning/sandbox.py), so a file
made to explode costs that child, never the service.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from mamori_common.card_numbers import without_card_numbers
from services.verification import catalogue
from services.verification.cases import flows as case_flows
from services.verification.cases import service as case_service
from services.verification.config import VerificationSettings
from services.verification.context import VerificationEnv
from services.verification.documents import matching
from services.verification.documents.models import Document
from services.verification.documents.receiving import Upload
from services.verification.scanning.bombs import BombLimits, refuse_bombs
from services.verification.scanning.pipeline import ScanResult, scan_upload
from services.verification.scanning.sandbox import SandboxLimits, run_sandboxed
from services.verification.scanning.statement import StatementFindings

_UNSAFE_NAME = re.compile(r"[^\w.\- ]+", re.UNICODE)


def safe_filename(name: str) -> str:
    """The client's file name for display only: no paths, no control characters, bounded."""
    base = without_card_numbers(name.replace("\\", "/").rsplit("/", 1)[-1])
    cleaned = _UNSAFE_NAME.sub("_", base).strip(" .") or "document"
    return cleaned[:120]


def _found_text(findings: StatementFindings, card_last4: str | None, language: str) -> str:
    lines = catalogue.NEEDED_LINES
    found = []
    for last4 in findings.last4:
        key = "last4_found" if card_last4 in (None, last4) else "last4_other"
        found.append(getattr(lines[key], language).format(last4=last4))
    for flag, key in (
        (findings.name, "name_found"),
        (findings.address, "address_found"),
        (findings.phone, "phone_found"),
    ):
        if flag:
            found.append(getattr(lines[key], language))
    separator = "、" if language == "ja" else ", "
    return separator.join(found) or getattr(lines["nothing_read"], language)


def inspect_and_scan(data: bytes, settings: VerificationSettings) -> ScanResult:
    """The scan of an upload; runs in the scan's child process, the bomb caps before any parser."""
    refuse_bombs(
        data,
        BombLimits(
            max_inflated_bytes=settings.max_inflated_bytes,
            max_image_pixels=settings.max_image_pixels,
            max_render_pixels=settings.max_render_pixels,
            render_scale=settings.ocr_render_scale,
        ),
    )
    return scan_upload(data, settings)


def scan_limits(settings: VerificationSettings) -> SandboxLimits:
    return SandboxLimits(
        memory_bytes=settings.scan_memory_bytes,
        cpu_seconds=settings.scan_cpu_seconds,
        wall_seconds=settings.scan_wall_seconds,
        max_concurrent=settings.max_concurrent_scans,
        queue_wait_seconds=settings.scan_queue_wait_seconds,
    )


def upload_document(db: Session, env: VerificationEnv, *, account_id: str, case_id: str, upload: Upload) -> Document:
    case = case_service.customer_case(db, account_id, case_id)
    case_service.ensure_accepts_input(case)
    settings = env.settings
    result = run_sandboxed(inspect_and_scan, upload.data, settings, limits=scan_limits(settings))

    now = env.clock.now()
    findings = result.statement(case.holder_name)
    filename = safe_filename(upload.filename)
    document = Document(
        case_id=case.id,
        account_id=account_id,
        content_type=result.content_type,
        filename=filename,
        size=len(result.kept),
        pages=result.pages,
        key_id="",
        masked=result.masked,
        uploaded_at=now,
        findings={"last4": findings.last4, "name": findings.name, "address": findings.address, "phone": findings.phone},
    )
    db.add(document)
    db.flush()
    document.key_id = env.store.put(db, document.id, result.kept)

    if case.items:
        for update in matching.checklist_updates(findings, case.card_last4):
            entry = case_service.item(case, update.code)
            if entry.status == "accepted":
                continue
            case_service.set_item(entry, update.status, now, source="document", reason_code=update.reason_code)
    fields = {
        "filename": filename,
        "pages": result.pages,
        "found_ja": _found_text(findings, case.card_last4, "ja"),
        "found_en": _found_text(findings, case.card_last4, "en"),
    }
    if document.masked:
        case_flows.step(
            db,
            env,
            case,
            "document_masked",
            actor="customer",
            actor_id=account_id,
            channel="portal",
            now=now,
            tell=None,
        )
    case_service.customer_input(case, now, settings)
    case_flows.step(
        db,
        env,
        case,
        "document_checked",
        actor="customer",
        actor_id=account_id,
        channel="portal",
        now=now,
        fields=fields,
        details={"document_id": document.id},
    )
    case_flows.submit_if_complete(db, env, case, now=now, channel="portal")
    return document
