"""Settings of the orders service (``MAMORI_`` prefix; database from ``MAMORI_ORDERS_DATABASE_URL``)."""

from typing import ClassVar

from pydantic import AliasChoices, Field

from mamori_common.settings import ServiceSettings


class OrdersSettings(ServiceSettings):
    service_name: ClassVar[str] = "orders"
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("MAMORI_ORDERS_DATABASE_URL")
    )
