"""Settings of the verification service (``MAMORI_`` prefix; database from ``MAMORI_VERIFICATION_DATABASE_URL``)."""

from typing import ClassVar

from pydantic import AliasChoices, Field

from mamori_common.settings import ServiceSettings


class VerificationSettings(ServiceSettings):
    service_name: ClassVar[str] = "verification"
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("MAMORI_VERIFICATION_DATABASE_URL")
    )
