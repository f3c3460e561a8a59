"""The webhook channels' HTTP client against real local HTTP servers: kept-alive
connections, servers that close them, answers framed by length, by chunks or by closing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from cordon_notification.adapters.http_client import HttpClient, HttpFailure

Answer = Callable[[int], bytes]


def by_length(n: int) -> bytes:
    body = b'{"errcode":0,"n":%d}' % n
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )


def chunked(n: int) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        b'transfer-encoding: chunked\r\n\r\n5\r\n{"n":\r\n%x\r\n%d}\r\n0\r\n\r\n'
        % (len(str(n)) + 1, n)
    )


class Server:
    """Answers each request with ``answer(n)``; ``per_connection`` requests, then closes."""

    def __init__(self, answer: Answer, per_connection: int | None = None) -> None:
        self.answer, self.per_connection = answer, per_connection
        self.requests: list[bytes] = []
        self.connections = 0
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while self.per_connection is None or served < self.per_connection:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                self.requests.append(head + await reader.readexactly(length))
                writer.write(self.answer(len(self.requests)))
                await writer.drain()
                served += 1
        writer.close()


@contextlib.asynccontextmanager
async def serving(server: Server) -> AsyncIterator[Server]:
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield server


@pytest.mark.parametrize("answer", [by_length, chunked], ids=["content-length", "chunked"])
async def test_posts_share_one_kept_alive_connection_and_read_the_whole_answer(
    answer: Answer,
) -> None:
    client = HttpClient(connections=1, timeout=5)
    async with serving(Server(answer)) as server:
        answers = [
            await client.post_json(
                f"http://127.0.0.1:{server.port}/hook?key=k", b"{}", {"Idempotency-Key": f"{n}"}
            )
            for n in range(1, 4)
        ]
        await client.aclose()

    assert server.connections == 1
    assert [a.status for a in answers] == [200, 200, 200]
    assert b'"n":3}' in answers[2].body
    assert server.requests[0].startswith(b"POST /hook?key=k HTTP/1.1\r\n")
    assert b"Idempotency-Key: 1\r\n" in server.requests[0]


async def test_a_server_that_closes_after_each_answer_still_gets_each_post_once() -> None:
    client = HttpClient(connections=2, timeout=5)
    async with serving(Server(by_length, per_connection=1)) as server:
        answers = await asyncio.gather(
            *(
                client.post_json(
                    f"http://127.0.0.1:{server.port}/", b"{}", {"Idempotency-Key": str(n)}
                )
                for n in range(20)
            )
        )
        await client.aclose()

    keys = sorted(int(r.split(b"Idempotency-Key: ")[1].split(b"\r\n")[0]) for r in server.requests)
    assert all(a.status == 200 for a in answers)
    assert keys == list(range(20))


async def test_a_refused_connection_and_a_silent_server_are_failures_not_answers() -> None:
    client = HttpClient(connections=1, timeout=0.5)
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    with pytest.raises(HttpFailure, match="timeout"):
        await client.post_json(f"http://127.0.0.1:{port}/", b"{}", {})
    silent.close()
    await silent.wait_closed()
    with pytest.raises(HttpFailure, match="ConnectionRefusedError"):
        await client.post_json(f"http://127.0.0.1:{port}/", b"{}", {})
    await client.aclose()


async def test_a_configured_proxy_is_sent_the_request_for_the_webhook() -> None:
    async with serving(Server(by_length)) as proxy:
        client = HttpClient(connections=1, timeout=5, proxy=f"http://127.0.0.1:{proxy.port}")
        answer = await client.post_json("http://bot.example:8080/hook", b"{}", {})
        await client.aclose()

    assert answer.status == 200
    assert proxy.requests[0].startswith(b"POST http://bot.example:8080/hook HTTP/1.1\r\n")
