"""The write gate (gate/write_gate.py), run as the pod runs it: the real program in its own
process, with real boto3, against a stub of ARC's data plane and a stub order gateway.

The ARC stub speaks the route53-recovery-cluster wire protocol as botocore's service model
describes it (JSON 1.0, target prefix `ToggleCustomerAPI`, the GetRoutingControlState
response shape, errors as `{"__type", "message"}`), so the gate's real client, signer and
error parsing all run. What it answers (On, Off, 500) is switched by the test; an endpoint
nobody listens on stands for one that refuses connections.

Poll 0.2 s and freshness 1 s keep every wait short; waits poll against deadlines."""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

from gate import write_gate

GATE = Path(__file__).resolve().parent.parent / "gate" / "write_gate.py"
ARN = "arn:aws:route53-recovery-control::111122223333:controlpanel/abc/routingcontrol/def"
POLL = 0.2
FRESH = 1.0
# Slack for a loaded machine: a poll cycle, a request and a scheduler hiccup.
EPSILON = 0.8

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


# -- stubs ------------------------------------------------------------------------------------


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, as the gate and botocore speak it, and no log lines."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return


@dataclass
class ArcStub:
    """One cluster endpoint of ARC's data plane, on a local port."""

    region: str
    state: str = "On"
    fail: bool = False
    calls: list[dict[str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> dict[str, str]:
        assert self.server is not None
        return {"region": self.region, "endpoint": f"http://127.0.0.1:{self.server.server_port}"}

    def handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.calls.append(
                    {
                        "target": self.headers.get("X-Amz-Target", ""),
                        "content_type": self.headers.get("Content-Type", ""),
                        "authorization": self.headers.get("Authorization", ""),
                        "arn": request.get("RoutingControlArn", ""),
                    }
                )
                if stub.fail:
                    status = 500
                    answer = {"__type": "InternalServerException", "message": "stub failure"}
                elif self.headers.get("X-Amz-Target") != (
                    "ToggleCustomerAPI.GetRoutingControlState"
                ):
                    status = 400
                    answer = {"__type": "ValidationException", "message": "unknown target"}
                else:
                    status = 200
                    answer = {
                        "RoutingControlArn": request["RoutingControlArn"],
                        "RoutingControlState": stub.state,
                        "RoutingControlName": "stub-control",
                    }
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class UpstreamStub:
    """The order gateway: answers every request, and records what reached it."""

    BODY = b'{"accepted": true}'

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        stub = self

        class Handler(QuietHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                stub.seen.append(
                    Seen(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                self.send_response(201 if self.command == "POST" else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Gateway", "stub")
                self.send_header("Content-Length", str(len(stub.BODY)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(stub.BODY)

            do_GET = do_POST = do_PUT = do_HEAD = _answer  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def port(self) -> int:
        return self.server.server_port


def serve(stub: ArcStub) -> ArcStub:
    server = ThreadingHTTPServer(("127.0.0.1", 0), stub.handler())
    server.daemon_threads = True
    stub.server = server
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return stub


@pytest.fixture
def arc() -> Iterator[Callable[[str], ArcStub]]:
    stubs: list[ArcStub] = []

    def make(region: str) -> ArcStub:
        stubs.append(serve(ArcStub(region)))
        return stubs[-1]

    yield make
    for stub in stubs:
        assert stub.server is not None
        stub.server.shutdown()
        stub.server.server_close()


@pytest.fixture
def upstream() -> Iterator[UpstreamStub]:
    stub = UpstreamStub()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


# -- the program ------------------------------------------------------------------------------


def base_env() -> dict[str, str]:
    """Dummy credentials and nothing from the developer's own AWS set-up."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": "us-west-2",
        "GATE_ALLOW_HTTP_ENDPOINTS": "1",
        "GATE_POLL_SECONDS": str(POLL),
        "GATE_FRESH_SECONDS": str(FRESH),
        "GATE_OPEN_PATHS": '["/health"]',
        "GATE_CONTROL_ARN": ARN,
    }


@dataclass
class Gate:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        connection: http.client.HTTPConnection | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = connection or http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            payload = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, payload
        finally:
            if connection is None:
                conn.close()

    def status(self, path: str = "/orders") -> int:
        return self.request("GET", path)[0]

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["event"] == name]


@pytest.fixture
def run_gate(tmp_path: Path) -> Iterator[Callable[..., Gate]]:
    gates: list[Gate] = []

    def start(endpoints: list[dict[str, str]], upstream_port: int, **overrides: str) -> Gate:
        port = free_port()
        env = base_env() | {
            "GATE_ENDPOINTS": json.dumps(endpoints),
            "GATE_UPSTREAM_PORT": str(upstream_port),
            "GATE_LISTEN_PORT": str(port),
        }
        env |= overrides
        log = tmp_path / f"gate-{len(gates)}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen([sys.executable, str(GATE)], env=env, stderr=sink)
        gate = Gate(process, port, log)
        gates.append(gate)

        def listening() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                return False
            return True

        wait_for(listening, 10, "the gate to listen")
        return gate

    yield start
    for gate in gates:
        if gate.process.poll() is None:
            gate.process.send_signal(signal.SIGTERM)
        assert gate.process.wait(timeout=10) == 0, gate.log.read_text()
        # Every line the gate writes is one JSON object, and it ends by saying so.
        assert gate.events("stopped"), gate.log.read_text()


def dead_endpoint(region: str) -> dict[str, str]:
    """A cluster endpoint that refuses connections: nothing listens on the port."""
    return {"region": region, "endpoint": f"http://127.0.0.1:{free_port()}"}


# -- behaviour --------------------------------------------------------------------------------


def test_closed_before_the_first_read_and_open_once_the_control_reads_on(
    arc: Callable[[str], ArcStub], upstream: UpstreamStub, run_gate: Callable[..., Gate]
) -> None:
    endpoint = arc("us-west-2")
    endpoint.fail = True
    gate = run_gate([endpoint.endpoint], upstream.port)
    wait_for(lambda: endpoint.calls, 5, "a first read attempt")

    status, headers, body = gate.request("POST", "/orders", b'{"qty": 1}')
    assert status == 503
    assert headers["retry-after"] == "1"
    assert headers["content-type"] == "application/json"
    refusal = json.loads(body)
    assert refusal["error"] == "region_not_accepting_orders"
    assert "no successful read" in refusal["reason"]
    assert not [s for s in upstream.seen if s.path == "/orders"]

    # Blind, the health check says so itself and does not reach the gateway.
    status, _, body = gate.request("GET", "/health?probe=alb")
    assert (status, json.loads(body)["error"]) == (503, "write_gate_blind")
    assert not upstream.seen

    endpoint.fail = False
    wait_for(lambda: gate.status() == 200, 5, "the gate to open")
    status, _, body = gate.request("GET", "/health?probe=alb")
    assert (status, body) == (200, UpstreamStub.BODY)
    assert upstream.seen[-1].path == "/health?probe=alb"
    # The stub saw the real client: the data-plane operation, JSON 1.0, signed for the
    # endpoint's region and for the route53-recovery-cluster service.
    call = endpoint.calls[-1]
    assert call["target"] == "ToggleCustomerAPI.GetRoutingControlState"
    assert call["content_type"] == "application/x-amz-json-1.0"
    assert call["arn"] == ARN
    assert "/us-west-2/route53-recovery-cluster/aws4_request" in call["authorization"]
    assert [e["reason"] for e in gate.events("gate_closed")][:1] == [
        "no successful read of the routing control yet"
    ]
    assert gate.events("gate_open")
    assert gate.events("endpoint_failed")[0]["error"] == "InternalServerException"


def test_the_request_reaches_the_gateway_intact_and_its_answer_comes_back(
    arc: Callable[[str], ArcStub], upstream: UpstreamStub, run_gate: Callable[..., Gate]
) -> None:
    gate = run_gate([arc("us-east-1").endpoint], upstream.port)
    wait_for(lambda: gate.status() == 200, 5, "the gate to open")
    upstream.seen.clear()

    body = b'{"symbol": "ACME", "qty": 100, "note": "caf\xc3\xa9"}'
    status, headers, answer = gate.request(
        "POST",
        "/orders/new?account=42&tag=a%20b",
        body,
        headers={
            "Content-Type": "application/json",
            "X-Request-Id": "r-1",
            "Connection": "keep-alive, X-Hop",
            "X-Hop": "not for the gateway",
        },
    )
    assert (status, answer) == (201, UpstreamStub.BODY)
    assert headers["x-gateway"] == "stub"
    assert headers["content-length"] == str(len(UpstreamStub.BODY))
    seen = upstream.seen[-1]
    assert (seen.method, seen.path, seen.body) == ("POST", "/orders/new?account=42&tag=a%20b", body)
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["x-request-id"] == "r-1"
    assert seen.headers["content-length"] == str(len(body))
    assert "x-hop" not in seen.headers
    assert seen.headers["host"] == f"127.0.0.1:{gate.port}"

    # HEAD: the gateway's Content-Length, and no body.
    status, headers, answer = gate.request("HEAD", "/orders/7")
    assert (status, answer) == (200, b"")
    assert headers["content-length"] == str(len(UpstreamStub.BODY))

    # A chunked body is refused: only Content-Length bodies are relayed.
    conn = http.client.HTTPConnection("127.0.0.1", gate.port, timeout=5)
    try:
        conn.request("POST", "/orders", body=iter([b'{"qty":', b" 1}"]), encode_chunked=True)
        assert conn.getresponse().status == 411
    finally:
        conn.close()
    assert [s.path for s in upstream.seen] == ["/orders/new?account=42&tag=a%20b", "/orders/7"]
    # One line per state change, not one per request.
    assert len(gate.events("gate_open")) == 1


def test_turning_the_control_off_closes_the_gate_within_a_poll(
    arc: Callable[[str], ArcStub], upstream: UpstreamStub, run_gate: Callable[..., Gate]
) -> None:
    endpoint = arc("us-east-1")
    gate = run_gate([endpoint.endpoint], upstream.port)
    wait_for(lambda: gate.status() == 200, 5, "the gate to open")

    endpoint.state = "Off"
    switched = time.monotonic()
    wait_for(lambda: gate.status() == 503, POLL + EPSILON, "the gate to close")
    assert time.monotonic() - switched < POLL + EPSILON
    status, _, body = gate.request("PUT", "/orders/7", b"{}")
    assert status == 503
    assert json.loads(body)["reason"] == "routing control Off"
    assert gate.events("gate_closed")[-1]["reason"] == "routing control Off"
    # Off is known, not blind: the health check still reaches the gateway, so failback can see
    # the old primary healthy before its control turns On.
    assert gate.status("/health") == 200

    # And it opens again when the control is back On.
    endpoint.state = "On"
    wait_for(lambda: gate.status() == 200, POLL + EPSILON, "the gate to reopen")


def test_a_kept_alive_connection_is_refused_as_soon_as_the_control_turns_off(
    arc: Callable[[str], ArcStub], upstream: UpstreamStub, run_gate: Callable[..., Gate]
) -> None:
    endpoint = arc("eu-west-1")
    gate = run_gate([endpoint.endpoint], upstream.port)
    wait_for(lambda: gate.status() == 200, 5, "the gate to open")

    conn = http.client.HTTPConnection("127.0.0.1", gate.port, timeout=5)
    try:
        assert gate.request("POST", "/orders", b"{}", connection=conn)[0] == 201
        sock = conn.sock
        assert sock is not None
        endpoint.state = "Off"

        def refused() -> bool:
            return gate.request("POST", "/orders", b"{}", connection=conn)[0] == 503

        wait_for(refused, POLL + EPSILON, "the kept-alive connection to be refused")
        # The same TCP connection all along: the gate decides per request, not per connection.
        assert conn.sock is sock
    finally:
        conn.close()


def test_a_dead_first_endpoint_is_passed_over_and_the_one_that_answered_is_kept(
    arc: Callable[[str], ArcStub], upstream: UpstreamStub, run_gate: Callable[..., Gate]
) -> None:
    failing = arc("ap-northeast-1")
    failing.fail = True
    answering = arc("ap-southeast-2")
    refused = dead_endpoint("us-east-1")
    gate = run_gate([refused, failing.endpoint, answering.endpoint], upstream.port)

    wait_for(lambda: gate.status() == 200, 5, "the gate to open")
    wait_for(lambda: len(answering.calls) >= 4, 5, "further reads")
    # One attempt on the failing endpoint (botocore does not retry it) and none after: the
    # next reads start at the endpoint that answered.
    assert len(failing.calls) == 1
    assert "/ap-southeast-2/route53-recovery-cluster/" in answering.calls[-1]["authorization"]
    failures = gate.events("endpoint_failed")
    assert [f["region"] for f in failures] == ["us-east-1", "ap-northeast-1"]
    assert failures[1]["error"] == "InternalServerException"


def test_when_every_endpoint_fails_the_gate_closes_once_the_last_read_goes_stale(
    arc: Callable[[str], ArcStub], upstream: UpstreamStub, run_gate: Callable[..., Gate]
) -> None:
    first, second = arc("us-east-1"), arc("us-west-2")
    gate = run_gate([first.endpoint, second.endpoint], upstream.port)
    wait_for(lambda: gate.status() == 200, 5, "the gate to open")

    first.fail = second.fail = True
    failed = time.monotonic()
    wait_for(lambda: gate.status() == 503, FRESH + EPSILON + POLL, "the gate to close")
    # Not at the first failed read (the gate stayed open for most of the window), but once the
    # last good read is older than the window, as the gate itself reports.
    assert time.monotonic() - failed >= FRESH / 2
    stale = gate.events("gate_closed")[-1]
    assert stale["last_read_age_seconds"] >= FRESH
    status, _, body = gate.request("DELETE", "/orders/7")
    assert status == 503
    assert json.loads(body)["reason"] == "no fresh read of the routing control"
    assert gate.events("gate_closed")[-1]["reason"] == "no fresh read of the routing control"
    # Blind: the health check fails too, so the region's checks and the canary see it.
    status, _, body = gate.request("GET", "/health")
    assert (status, json.loads(body)["reason"]) == (503, "no fresh read of the routing control")


def test_an_unreachable_gateway_is_answered_502(
    arc: Callable[[str], ArcStub], run_gate: Callable[..., Gate]
) -> None:
    gate = run_gate([arc("us-east-1").endpoint], free_port())
    wait_for(lambda: gate.events("gate_open"), 5, "the gate to open")
    status, _, body = gate.request("GET", "/health")
    assert status == 502
    assert json.loads(body)["error"] == "gateway_unreachable"
    assert gate.status() == 502


def test_sigterm_stops_the_gate_cleanly(
    arc: Callable[[str], ArcStub], upstream: UpstreamStub, run_gate: Callable[..., Gate]
) -> None:
    gate = run_gate([arc("us-east-1").endpoint], upstream.port)
    wait_for(lambda: gate.status() == 200, 5, "the gate to open")
    gate.process.send_signal(signal.SIGTERM)
    assert gate.process.wait(timeout=10) == 0
    assert gate.events("stopping")[0]["signal"] == "SIGTERM"
    assert gate.events("stopped")[0]["drained"] is True
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", gate.port), timeout=1).close()


def start_alone(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The gate started with `env` and nothing else, run until it exits."""
    return subprocess.run(
        [sys.executable, str(GATE)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )


# -- configuration ----------------------------------------------------------------------------

GOOD_ENDPOINTS = '[{"region": "us-east-1", "endpoint": "https://abc.example.com"}]'


@pytest.mark.parametrize(
    ("changes", "variable", "fragment"),
    [
        ({"GATE_FRESH_SECONDS": "1", "GATE_POLL_SECONDS": "1"}, "GATE_FRESH_SECONDS", "greater"),
        (
            {
                "GATE_ALLOW_HTTP_ENDPOINTS": "",
                "GATE_ENDPOINTS": '[{"region": "us-east-1", "endpoint": "http://abc.example"}]',
            },
            "GATE_ENDPOINTS",
            "https://",
        ),
        ({"GATE_CONTROL_ARN": ""}, "GATE_CONTROL_ARN", "arn:"),
        ({"GATE_CONTROL_ARN": "routingcontrol/abc"}, "GATE_CONTROL_ARN", "arn:"),
        ({"GATE_ENDPOINTS": "[]"}, "GATE_ENDPOINTS", "non-empty"),
        ({"GATE_ENDPOINTS": '[{"Region": "us-east-1"}]'}, "GATE_ENDPOINTS", '"region"'),
        ({"GATE_UPSTREAM_PORT": "http"}, "GATE_UPSTREAM_PORT", "65535"),
        ({"GATE_OPEN_PATHS": '["health"]'}, "GATE_OPEN_PATHS", '"/"'),
        ({"GATE_POLL_SECONDS": "-1"}, "GATE_POLL_SECONDS", "positive"),
        ({"AWS_REGION": ""}, "AWS_REGION", "the pod's AWS region"),
        ({"AWS_REGION": "us west"}, "AWS_REGION", "the pod's AWS region"),
        ({"GATE_REQUIRE_WEB_IDENTITY": "yes"}, "GATE_REQUIRE_WEB_IDENTITY", "IRSA"),
    ],
)
def test_a_bad_variable_stops_the_gate_at_start_and_is_named(
    changes: dict[str, str], variable: str, fragment: str
) -> None:
    env = base_env() | {
        "GATE_ENDPOINTS": GOOD_ENDPOINTS,
        "GATE_UPSTREAM_PORT": "8080",
        "GATE_LISTEN_PORT": "8081",
    }
    env |= changes
    result = start_alone(env)
    assert result.returncode != 0
    assert variable in result.stderr
    assert fragment in result.stderr
    for name, value in changes.items():
        if name == variable and value:
            assert value in result.stderr


# -- credentials and endpoint order -----------------------------------------------------------


class StsReachedError(Exception):
    """Raised instead of calling STS: which region the credentials would come from."""


def test_credentials_come_from_the_pods_own_sts_and_its_own_endpoint_is_tried_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With IRSA, botocore exchanges the web identity token with STS. dr's gate must do that at
    us-west-2's STS, whatever region the first listed ARC endpoint is in: us-east-1's is down
    exactly when dr matters. Real botocore decides; its STS client is intercepted before any
    network call."""
    token = tmp_path / "token"
    token.write_text("header.payload.signature")
    environment = base_env() | {
        "GATE_ENDPOINTS": json.dumps(
            [
                {"region": "us-east-1", "endpoint": "https://host-a.us-east-1.example.com/v1"},
                {"region": "us-west-2", "endpoint": "https://host-b.us-west-2.example.com/v1"},
            ]
        ),
        "GATE_ALLOW_HTTP_ENDPOINTS": "",
        "GATE_UPSTREAM_PORT": "8080",
        "GATE_LISTEN_PORT": "8081",
        "GATE_REQUIRE_WEB_IDENTITY": "1",
        "AWS_ROLE_ARN": "arn:aws:iam::111122223333:role/write-gate",
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
    }
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
        environment.pop(name, None)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = write_gate.load_settings(os.environ)
    assert [e.region for e in settings.endpoints] == ["us-west-2", "us-east-1"]

    import botocore.session  # noqa: PLC0415 - patched for this test only

    create_client = botocore.session.Session.create_client

    def intercept(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, service_name, *args, **kwargs)
        if service_name == "sts":

            def refuse(request: Any, **_: Any) -> None:
                raise StsReachedError(request.url)

            client.meta.events.register("before-send.sts", refuse)
        return client

    monkeypatch.setattr(botocore.session.Session, "create_client", intercept)
    # botocore gives the STS client the region of the first client created, so the order alone
    # would do; the credentials must come from us-west-2 whatever the order.
    east_first = dataclasses.replace(settings, endpoints=tuple(reversed(settings.endpoints)))
    east = write_gate.make_clients(east_first)[0]
    assert east.meta.region_name == "us-east-1"
    with pytest.raises(StsReachedError) as reached:
        east.get_routing_control_state(RoutingControlArn=ARN)
    assert str(reached.value) == "https://sts.us-west-2.amazonaws.com/"


def test_a_pod_without_irsa_credentials_stops_at_start_naming_them() -> None:
    env = base_env() | {
        "GATE_ENDPOINTS": GOOD_ENDPOINTS,
        "GATE_UPSTREAM_PORT": "8080",
        "GATE_LISTEN_PORT": "8081",
        "GATE_REQUIRE_WEB_IDENTITY": "1",
        "AWS_ROLE_ARN": "arn:aws:iam::111122223333:role/write-gate",
    }
    result = start_alone(env)
    assert result.returncode == 2
    assert "AWS_WEB_IDENTITY_TOKEN_FILE is missing or empty" in result.stderr
    assert "eks.amazonaws.com/role-arn" in result.stderr
