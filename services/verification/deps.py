"""Who may call what: customers see their own cases; staff roles split documents from status."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from mamori_common.path_ids import PathId, path_id
from mamori_common.tokens import CurrentPrincipal, Principal, require_role

#: Specialists review cases and see documents; admins may too.
Specialist = Annotated[Principal, Depends(require_role("specialist", "admin"))]
#: Anyone at the store who handles cases: support sees status, checklist and timeline, never documents.
Staff = Annotated[Principal, Depends(require_role("specialist", "support", "admin"))]
Customer = CurrentPrincipal

CaseId = Annotated[str, path_id("The case id (from listCases).")]
DocumentId = PathId
