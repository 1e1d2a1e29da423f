"""Routes of the audit domain."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/auth", tags=["auth"])
