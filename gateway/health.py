"""``/healthz`` of the gateway: is every service reachable through it?

Each replica's ``/readyz`` (which checks its database) is called at once, with a short timeout,
so the answer takes at most one timeout however many replicas there are. A service is ``up``
when every replica is ready, ``degraded`` when some are (it still serves every request) and
``down`` when none is; the gateway answers 200 only when no service is down, and otherwise a
503 problem naming the services that are. Replicas are listed by their position in
``MAMORI_<SERVICE>_UPSTREAMS``, not by address: this answer is public, the topology is not.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from gateway.upstreams import Upstream, Upstreams
from mamori_common.observability import outgoing_headers


async def _replica_status(upstream: Upstream, index: int, url: str, timeout: float) -> dict[str, Any]:
    status: dict[str, Any] = {"replica": index, "status": "down"}
    try:
        async with upstream.session.get(
            f"{url}/readyz", timeout=aiohttp.ClientTimeout(total=timeout), headers=outgoing_headers()
        ) as response:
            code = response.status
    except (aiohttp.ConnectionTimeoutError, TimeoutError):
        status["reason"] = "timeout"
    except aiohttp.ClientConnectorError:
        status["reason"] = "refused"
    except aiohttp.ClientError:
        status["reason"] = "error"
    else:
        if code == 200:
            status["status"] = "up"
        else:
            status["reason"] = f"status {code}"
    return status


async def _service_status(upstream: Upstream, timeout: float) -> dict[str, Any]:
    replicas = await asyncio.gather(
        *(
            _replica_status(upstream, index, replica.url, timeout)
            for index, replica in enumerate(upstream.replicas.replicas)
        )
    )
    up = sum(1 for replica in replicas if replica["status"] == "up")
    state = "up" if up == len(replicas) else "degraded" if up else "down"
    return {"status": state, "replicas": list(replicas)}


async def aggregate_health(upstreams: Upstreams, timeout: float) -> tuple[bool, dict[str, Any]]:
    """(every service reachable, the status of each service and replica)."""
    names = list(upstreams)
    statuses = await asyncio.gather(*(_service_status(upstreams[name], timeout) for name in names))
    services = dict(zip(names, statuses, strict=True))
    return all(service["status"] != "down" for service in services.values()), services
