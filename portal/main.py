"""The customer portal: pages served through the gateway at ``/``.

The portal owns no data: every page is drawn from the services' APIs. Its pages arrive with the
portal issue; today it serves the landing page in Japanese and English.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from mamori_common.app import create_base_app
from mamori_common.observability import configure_logging
from portal.config import PortalSettings
from portal.pages import landing_page, preferred_language


def create_app(settings: PortalSettings | None = None, **_options: Any) -> FastAPI:
    settings = settings or PortalSettings()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        configure_logging("portal", settings.log_level)
        yield

    app = create_base_app("portal", "Mamori portal", "Customer pages.", settings, lifespan)

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        return JSONResponse({"status": "ready", "service": "portal"})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def landing(request: Request, lang: str | None = None) -> HTMLResponse:
        language = preferred_language(lang, request.headers.get("accept-language"))
        return HTMLResponse(landing_page(language), headers={"Content-Language": language})

    return app
