"""The gateway: Mamori's one public entry.

It routes each request by path prefix to the service that owns it (auth, verification, orders,
or the portal for everything else), over pooled, streaming connections to that service's
replicas; it mints the request id, decides which client address and scheme to believe, adds the
security headers, serves the merged OpenAPI document and Swagger UI, and answers ``/healthz``
for the whole deployment. Start it with ``uvicorn --factory gateway.main:create_app``.
"""
