"""A bounded HTTP load generator (aiohttp) for the benchmarks and the swap-under-traffic tests.

It sends exactly `requests` POSTs with at most `concurrency` in flight and records each request's
status and latency; it never retries, so a failure is counted, not hidden.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class LoadResult:
    latencies: np.ndarray  # seconds per request, in completion order
    statuses: list[int]  # HTTP status, or 0 for a connection error
    seconds: float  # wall time of the whole run
    bodies: list[dict] = field(default_factory=list)  # parsed 200 bodies, if kept

    @property
    def failed(self) -> int:
        return sum(1 for s in self.statuses if s != 200)

    @property
    def requests_per_second(self) -> float:
        return len(self.statuses) / self.seconds

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies, q) * 1000)

    def summary(self) -> dict:
        return {
            "requests": len(self.statuses),
            "failed": self.failed,
            "req_per_s": round(self.requests_per_second, 1),
            "p50_ms": round(self.percentile_ms(50), 2),
            "p99_ms": round(self.percentile_ms(99), 2),
            "max_ms": round(float(self.latencies.max() * 1000), 2),
        }


async def _run(
    url: str,
    bodies: Callable[[int], bytes],
    requests: int,
    concurrency: int,
    keep_bodies: bool,
    headers: dict[str, str],
) -> LoadResult:
    import aiohttp

    latencies = np.zeros(requests)
    statuses = [0] * requests
    kept: list[dict] = []
    next_index = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    headers = {"Content-Type": "application/json", **headers}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker():
            nonlocal next_index
            while next_index < requests:
                i, next_index = next_index, next_index + 1
                body = bodies(i)
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        payload = await response.read()
                        statuses[i] = response.status
                        if keep_bodies and response.status == 200:
                            import json

                            kept.append(json.loads(payload))
                except (TimeoutError, aiohttp.ClientError):
                    statuses[i] = 0
                latencies[i] = time.perf_counter() - started

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return LoadResult(latencies, statuses, seconds, kept)


def run_load(
    url: str,
    bodies: Callable[[int], bytes],
    requests: int,
    concurrency: int = 32,
    keep_bodies: bool = False,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """POST `bodies(i)` for i in range(requests) to `url`; blocks until all are answered."""
    return asyncio.run(_run(url, bodies, requests, concurrency, keep_bodies, headers or {}))
