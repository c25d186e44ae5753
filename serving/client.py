"""A small HTTP client of the endpoint (standard library only): what `mlops predict` and the
deployment asset use."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

API_KEY_HEADER = "X-API-Key"


class EndpointError(RuntimeError):
    """The endpoint answered with an error (`status`, `body`) or not at all (`status` None)."""

    def __init__(self, message: str, status: int | None = None, body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body


class Client:
    def __init__(
        self, url: str = "http://127.0.0.1:8000", api_key: str | None = None, timeout: float = 30.0
    ):
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def predict(self, records: list[dict]) -> dict:
        return self._call("POST", "/v1/predict", {"records": records})

    def health(self) -> dict:
        return self._call("GET", "/v1/health")

    def model(self) -> dict:
        return self._call("GET", "/v1/model")

    def set_target(self, target: dict, timeout: float = 180.0) -> dict:
        return self._call("PUT", "/v1/admin/target", target, timeout=timeout)

    def _call(self, method: str, path: str, body: Any = None, timeout: float | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.api_key:
            request.add_header(API_KEY_HEADER, self.api_key)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw.decode(errors="replace")
            detail = payload.get("detail", payload) if isinstance(payload, dict) else payload
            raise EndpointError(
                f"{method} {path} -> {exc.code}: {detail}", exc.code, payload
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise EndpointError(f"no endpoint at {self.url}: {reason}") from None
