"""Routes of the sessions domain."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/auth", tags=["auth"])
