"""Fetching the services' OpenAPI documents and keeping the merged one briefly.

Each service's document is kept for ``openapi_cache_seconds``; a service that could not be
reached is asked again after ``openapi_retry_seconds``, so it appears in the merged document
soon after it comes up, while a busy docs page does not hammer a service that is down. The
merged document is serialised once per change, not once per request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from gateway.openapi_merge import Document, merge_documents
from gateway.upstreams import Upstream, Upstreams
from mamori_common.observability import outgoing_headers

logger = logging.getLogger("mamori.gateway.openapi")


class OpenApiCache:
    def __init__(
        self,
        upstreams: Upstreams,
        *,
        ttl: float,
        retry: float,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.upstreams = upstreams
        self.ttl = ttl
        self.retry = retry
        self.timeout = timeout
        self._clock = clock
        self._documents: dict[str, Document | None] = dict.fromkeys(upstreams)
        self._asked_at: dict[str, float] = {}
        self._body: bytes | None = None
        self._lock = asyncio.Lock()

    def _due(self, now: float) -> list[str]:
        due = []
        for name, document in self._documents.items():
            asked = self._asked_at.get(name)
            wait = self.ttl if document is not None else self.retry
            if asked is None or now - asked >= wait:
                due.append(name)
        return due

    async def body(self) -> bytes:
        """The merged document, as JSON bytes."""
        if self._body is not None and not self._due(self._clock()):
            return self._body
        async with self._lock:
            now = self._clock()
            due = self._due(now)
            if due or self._body is None:
                fetched = await asyncio.gather(*(self._fetch(self.upstreams[name]) for name in due))
                for name, document in zip(due, fetched, strict=True):
                    self._asked_at[name] = now
                    self._documents[name] = document
                self._body = json.dumps(self.merged(), separators=(",", ":")).encode()
            return self._body

    def merged(self) -> Document:
        present = {name: document for name, document in self._documents.items() if document is not None}
        missing = [name for name, document in self._documents.items() if document is None]
        return merge_documents(present, missing=missing)

    async def _fetch(self, upstream: Upstream) -> Document | None:
        """The service's document from the first replica that gives one, or None."""
        for replica in upstream.replicas.candidates():
            try:
                async with upstream.session.get(
                    f"{replica.url}/openapi.json",
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                    headers=outgoing_headers(),
                ) as response:
                    if response.status == 200:
                        document: Any = await response.json(content_type=None)
                        if isinstance(document, dict) and isinstance(document.get("paths", {}), dict):
                            return document
                    logger.warning(
                        "no OpenAPI document", extra={"upstream_service": upstream.name, "status": response.status}
                    )
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                logger.warning(
                    "OpenAPI document unavailable", extra={"upstream_service": upstream.name, "error": repr(exc)}
                )
        return None
