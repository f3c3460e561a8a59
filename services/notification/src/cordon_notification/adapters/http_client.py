"""The HTTP client of the webhook and SMS-gateway channels: aiohttp, kept-alive connections,
at most ``connections`` requests at once per origin.

Why not httpx: on the benchmark machine httpx spent about 1.5 ms of CPU per POST (two
writes per request, anyio and connection-pool bookkeeping, a failed ``import sniffio`` on
every request), half of the service's CPU per delivery; with aiohttp the whole service
delivers twice what a bare httpx client posts (bench/bench_notification.py). The channels
need little: POST a JSON body, read the status, the content type and a bounded body.
Redirects are not followed (a bot that answers 3xx has failed). An outbound proxy is a
setting (``CORDON_WEBHOOK_PROXY``), not read from ``HTTPS_PROXY``: aiohttp's ``trust_env``
looks the environment and ``~/.netrc`` up in a worker thread on every request, which halved
the benchmark's deliveries/s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

MAX_ANSWER_BYTES = 64 * 1024
"""Bots answer a few bytes of JSON; more than this is not read."""


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


class HttpFailure(Exception):
    """No usable answer: connection refused or reset, timeout, malformed or oversized reply."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HttpClient:
    """POSTs over kept-alive connections, at most ``connections`` at once per origin."""

    def __init__(self, *, connections: int, timeout: float, proxy: str | None = None) -> None:
        self.connections, self.timeout, self.proxy = connections, timeout, proxy
        self._session: aiohttp.ClientSession | None = None

    async def post_json(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """POST ``body`` (JSON) to ``url``; the answer whatever its status, or HttpFailure."""
        try:
            try:
                return await self._post(url, body, headers)
            except aiohttp.ServerDisconnectedError:
                # A kept-alive connection the server had closed: the request was not
                # answered, so it goes once more, on a fresh connection (the receiver sees
                # the same Idempotency-Key if it did get it).
                return await self._post(url, body, headers)
        except TimeoutError as error:
            raise HttpFailure("timeout") from error
        except aiohttp.InvalidURL as error:
            raise HttpFailure("not an http(s) url") from error
        except aiohttp.ClientConnectorError as error:
            raise HttpFailure(type(error.os_error).__name__) from error
        except aiohttp.ServerDisconnectedError as error:
            raise HttpFailure("connection closed without an answer") from error
        except aiohttp.ClientPayloadError as error:
            raise HttpFailure("answer cut short") from error
        except aiohttp.ClientResponseError as error:
            raise HttpFailure("malformed answer") from error
        except (aiohttp.ClientError, OSError) as error:
            raise HttpFailure(type(error).__name__) from error

    async def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        if not url.startswith(("http://", "https://")):
            raise aiohttp.InvalidURL(url)
        async with self._client().post(
            url,
            data=body,
            headers={"Content-Type": "application/json", **headers},
            allow_redirects=False,
            proxy=self.proxy,
        ) as response:
            answer = await response.content.read(MAX_ANSWER_BYTES + 1)
            if len(answer) > MAX_ANSWER_BYTES:
                raise HttpFailure("answer too large")
            return Answer(response.status, response.headers.get("Content-Type", ""), answer)

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use: a session belongs to the event loop it was made in.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=self.connections),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": "cordon-notification"},
                auto_decompress=False,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
