"""Parallel HTTP requests against pytest-django's live server: each on its own thread and
connection, released together by a barrier so that they reach the server at the same moment."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from saleschannel.accounts.services import api_user_create
from saleschannel.channels.models import Channel
from saleschannel.channels.tests.factories import ChannelFactory


@dataclass
class Result:
    status: int
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, None when empty


@dataclass
class Call:
    """One HTTP request, sent once every thread's connection is open."""

    method: str
    url: str
    token: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] | None = None

    def connect(self) -> http.client.HTTPConnection:
        parts = urllib.parse.urlsplit(self.url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        connection.connect()
        return connection

    def send(self, connection: http.client.HTTPConnection) -> Result:
        headers = {
            "Authorization": f"Token {self.token}",
            "Accept": "application/json",
            **(self.headers or {}),
        }
        data = None
        if self.body is not None:
            data = json.dumps(self.body).encode()
            headers["Content-Type"] = "application/json"
        connection.request(
            self.method, urllib.parse.urlsplit(self.url).path, body=data, headers=headers
        )
        response = connection.getresponse()
        raw = response.read()
        connection.close()
        return Result(
            status=response.status,
            headers={name.lower(): value for name, value in response.getheaders()},
            body=json.loads(raw) if raw else None,
        )


def in_parallel(calls: list[Call]) -> list[Result]:
    """Every call on its own thread and connection, released together by a barrier.

    Connections are opened before the barrier (the live server's listen backlog is small), so
    the requests themselves reach the server at the same moment. Results are in call order.
    """
    barrier = threading.Barrier(len(calls), timeout=60)

    def run(call: Call) -> Result:
        connection = call.connect()
        barrier.wait()
        return call.send(connection)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def statuses(results: list[Result]) -> Counter:
    return Counter(result.status for result in results)


def assert_no_server_errors(results: list[Result]) -> None:
    assert [(r.status, r.body) for r in results if r.status >= 500] == []


def live_channel(live_server, username: str, backlog: int) -> tuple[Channel, str, str]:
    """A channel, a superuser's real token, and the channel's customers URL on the live server,
    which from now on queues up to `backlog` connections waiting to be accepted."""
    # Django's test server listens with a backlog of 10: more simultaneous connects overflow it,
    # the kernel drops SYNs and the late connections are reset. Listening again on Linux only
    # widens the queue of the (session-wide) server socket; the requests are unaffected.
    live_server.thread.httpd.socket.listen(backlog)
    channel = ChannelFactory()
    _, token = api_user_create(username=username, superuser=True)
    return channel, token, f"{live_server.url}/api/v1/channel/{channel.pk}/customers/"
