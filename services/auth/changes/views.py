"""Routes of the changes domain."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/auth", tags=["auth"])
