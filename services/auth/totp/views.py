"""Routes of the totp domain."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/auth", tags=["auth"])
