"""Write gate: a fail-closed reverse proxy in front of the order gateway, in every gateway pod.

After a failover, Route 53 ARC routing controls pin traffic to one region (its control On, the
other's Off). A client holding an old DNS answer can still reach the other region's gateway
once that region comes back, and orders written there are lost. This sidecar sits in the data
path and forwards a request to the gateway container only while the last successful read of
its region's routing control said On and that read is recent; otherwise it answers 503.

It reads the control from ARC's data plane (service ``route53-recovery-cluster``, operation
``GetRoutingControlState``) and not from DNS or the control plane, because the data plane is
the part of ARC built to stay available during the events that cause failovers ("Data and
control planes for routing control",
https://docs.aws.amazon.com/r53recovery/latest/dg/data-and-control-planes.html).

The open paths (the health check) are forwarded whether the control reads On or Off: failback
checks the primary's health while its control is still Off, and a health that followed the
control would deadlock it. They answer 503 only while the gate is blind (no read yet, or none
fresh): a region whose gates cannot read their control takes no orders, and its health checks,
its alarm, the failover probe's canary and the drill then say so instead of calling it healthy.

Shipped into the pod as a ConfigMap and run as ``python3 /opt/write-gate/write_gate.py``: one
file, the standard library and boto3/botocore only.

Environment (a bad value stops the program at start, naming the variable):

    GATE_CONTROL_ARN            routing control ARN (starts with "arn:")
    GATE_ENDPOINTS              JSON list of {"region": ..., "endpoint": "https://..."}
    GATE_ALLOW_HTTP_ENDPOINTS   "1" also allows http:// endpoints (tests only); "" or "0" not
    GATE_UPSTREAM_PORT          the gateway container's port on 127.0.0.1
    GATE_LISTEN_PORT            the port this proxy listens on (0.0.0.0)
    GATE_OPEN_PATHS             JSON list of paths forwarded whatever the gate, e.g. ["/health"]
    GATE_POLL_SECONDS           seconds between reads (default 1)
    GATE_FRESH_SECONDS          a read older than this no longer opens the gate (default 5,
                                greater than GATE_POLL_SECONDS)
    GATE_REQUIRE_WEB_IDENTITY   "1": refuse to start without IRSA's AWS_ROLE_ARN and
                                AWS_WEB_IDENTITY_TOKEN_FILE; "" or "0": any credentials
    AWS_REGION                  the pod's region: its endpoint is tried first, and credentials
                                come from its STS endpoint
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import math
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from boto3.session import Session
from botocore.config import Config
from botocore.exceptions import ClientError

CONTROL_ARN = "GATE_CONTROL_ARN"
ENDPOINTS = "GATE_ENDPOINTS"
ALLOW_HTTP = "GATE_ALLOW_HTTP_ENDPOINTS"
UPSTREAM_PORT = "GATE_UPSTREAM_PORT"
LISTEN_PORT = "GATE_LISTEN_PORT"
OPEN_PATHS = "GATE_OPEN_PATHS"
POLL_SECONDS = "GATE_POLL_SECONDS"
FRESH_SECONDS = "GATE_FRESH_SECONDS"
REQUIRE_WEB_IDENTITY = "GATE_REQUIRE_WEB_IDENTITY"
# The pod's own region, as the AWS SDKs read it.
REGION = "AWS_REGION"
# What the EKS pod identity webhook injects for IRSA.
WEB_IDENTITY_VARIABLES = ("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")

DEFAULT_POLL_SECONDS = 1.0
DEFAULT_FRESH_SECONDS = 5.0

# A keep-alive connection idle this long is closed, so that a stopping gate is not held open by
# clients that no longer send anything; a request body that stalls this long is dropped too.
IDLE_SECONDS = 15.0
# The gateway answers on the loopback interface; an order call that takes longer than this is
# answered 502 rather than holding a proxy thread without end.
UPSTREAM_TIMEOUT_SECONDS = 30.0
# On SIGTERM: stop accepting, then give requests already forwarded this long to finish, well
# inside Kubernetes' default 30 s termination grace period.
DRAIN_SECONDS = 10.0

# How long, and how much, to read and drop from a client whose request body is refused unread,
# before closing its connection.
LINGER_SECONDS = 2.0
LINGER_BYTES = 1 << 20

# Hop-by-hop headers belong to one connection and are not forwarded by a proxy
# (RFC 9110, section 7.6.1), nor are the headers named in a Connection header.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)

# botocore's own check on a region name, applied here so a bad one stops the program at start
# instead of failing every read.
_REGION = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?$")

log = logging.getLogger("write_gate")


# -- configuration ----------------------------------------------------------------------------


class ConfigError(ValueError):
    """A variable that is missing or not allowed; the message names it, its value and the rule."""


@dataclass(frozen=True)
class Endpoint:
    region: str
    url: str


@dataclass(frozen=True)
class Settings:
    region: str
    control_arn: str
    endpoints: tuple[Endpoint, ...]
    upstream_port: int
    listen_port: int
    open_paths: frozenset[str]
    poll_seconds: float
    fresh_seconds: float

    @property
    def call_timeout(self) -> float:
        """Connect and read timeout of one GetRoutingControlState call.

        The poller moves on to the next endpoint only after a dead one times out, so a timeout
        of at most a quarter of the freshness window leaves room to reach a live endpoint before
        the last good read goes stale; one second is ample for a small JSON call."""
        return max(0.1, min(1.0, self.fresh_seconds / 4))


def _bad(name: str, value: object, allowed: str) -> ConfigError:
    return ConfigError(f"{name}={value!r} is not allowed: {allowed}")


def _required(env: Mapping[str, str], name: str, allowed: str) -> str:
    value = env.get(name, "")
    if not value.strip():
        raise ConfigError(f"{name} is missing or empty: {allowed}")
    return value


def _json(env: Mapping[str, str], name: str, allowed: str) -> Any:
    raw = _required(env, name, allowed)
    try:
        return json.loads(raw)
    except ValueError:
        raise _bad(name, raw, allowed) from None


def _port(env: Mapping[str, str], name: str) -> int:
    allowed = "an integer TCP port from 1 to 65535"
    raw = _required(env, name, allowed)
    if not raw.strip().isdigit() or not 1 <= int(raw) <= 65535:
        raise _bad(name, raw, allowed)
    return int(raw)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    allowed = f"a positive number of seconds (default {default:g})"
    raw = env.get(name, "")
    if not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise _bad(name, raw, allowed) from None
    if not math.isfinite(value) or value <= 0:
        raise _bad(name, raw, allowed)
    return value


def _endpoints(env: Mapping[str, str]) -> tuple[Endpoint, ...]:
    allow_raw = env.get(ALLOW_HTTP, "")
    if allow_raw not in ("", "0", "1"):
        raise _bad(ALLOW_HTTP, allow_raw, '"1" (allow http:// endpoints, for tests), "0" or ""')
    schemes = ("https", "http") if allow_raw == "1" else ("https",)
    shape = (
        'a non-empty JSON list of {"region": "<aws region>", "endpoint": "'
        + ('https:// or http:// URL"}' if allow_raw == "1" else 'https:// URL"}')
        + (
            f" (http:// only with {ALLOW_HTTP}=1)"
            if allow_raw != "1"
            else f" ({ALLOW_HTTP}=1 allows http://)"
        )
    )
    listed = _json(env, ENDPOINTS, shape)
    if not isinstance(listed, list) or not listed:
        raise _bad(ENDPOINTS, env[ENDPOINTS], shape)
    endpoints = []
    for item in listed:
        if not isinstance(item, dict) or set(item) != {"region", "endpoint"}:
            raise _bad(ENDPOINTS, env[ENDPOINTS], shape)
        region, url = item["region"], item["endpoint"]
        if not isinstance(region, str) or not _REGION.match(region):
            raise _bad(ENDPOINTS, env[ENDPOINTS], shape + f"; {region!r} is not a region name")
        if not isinstance(url, str):
            raise _bad(ENDPOINTS, env[ENDPOINTS], shape)
        parts = urlsplit(url)
        if parts.scheme not in schemes or not parts.netloc or parts.query or parts.fragment:
            raise _bad(ENDPOINTS, env[ENDPOINTS], shape + f"; {url!r} is not such a URL")
        endpoints.append(Endpoint(region, url))
    return tuple(endpoints)


def _open_paths(env: Mapping[str, str]) -> frozenset[str]:
    allowed = 'a JSON list of paths, each starting with "/", e.g. ["/health"] ([] for none)'
    listed = _json(env, OPEN_PATHS, allowed)
    if not isinstance(listed, list) or not all(
        isinstance(p, str) and p.startswith("/") for p in listed
    ):
        raise _bad(OPEN_PATHS, env[OPEN_PATHS], allowed)
    return frozenset(listed)


def _region(env: Mapping[str, str]) -> str:
    allowed = "the pod's AWS region, e.g. us-west-2"
    region = _required(env, REGION, allowed)
    if not _REGION.match(region):
        raise _bad(REGION, region, allowed)
    return region


def _web_identity(env: Mapping[str, str]) -> None:
    """A pod the IRSA webhook did not mutate (its service account was not yet in the webhook's
    cache when the pod was created: aws/amazon-eks-pod-identity-webhook#174) could never read
    its control and would refuse every order while looking healthy; stopping at start makes it
    crash-loop where `kubectl get pods` shows it, and a new pod gets the credentials."""
    flag = env.get(REQUIRE_WEB_IDENTITY, "")
    if flag not in ("", "0", "1"):
        raise _bad(REQUIRE_WEB_IDENTITY, flag, '"1" (IRSA credentials required), "0" or ""')
    if flag != "1":
        return
    for name in WEB_IDENTITY_VARIABLES:
        if not env.get(name, "").strip():
            raise ConfigError(
                f"{name} is missing or empty: {REQUIRE_WEB_IDENTITY}=1 needs the IRSA "
                "credentials the EKS pod identity webhook injects; check the service account's "
                "eks.amazonaws.com/role-arn annotation and delete this pod so a new one gets them"
            )


def load_settings(env: Mapping[str, str]) -> Settings:
    region = _region(env)
    _web_identity(env)
    arn_rule = 'the routing control ARN, starting with "arn:"'
    arn = _required(env, CONTROL_ARN, arn_rule)
    if not arn.startswith("arn:") or arn != arn.strip():
        raise _bad(CONTROL_ARN, arn, arn_rule)
    # The pod's own region first: the endpoint in a failed region only costs timeouts.
    endpoints = tuple(sorted(_endpoints(env), key=lambda e: e.region != region))
    upstream = _port(env, UPSTREAM_PORT)
    listen = _port(env, LISTEN_PORT)
    if listen == upstream:
        raise _bad(
            LISTEN_PORT,
            env[LISTEN_PORT],
            f"a port other than {UPSTREAM_PORT} ({upstream}): the gate forwards to that port",
        )
    open_paths = _open_paths(env)
    poll = _seconds(env, POLL_SECONDS, DEFAULT_POLL_SECONDS)
    fresh = _seconds(env, FRESH_SECONDS, DEFAULT_FRESH_SECONDS)
    if fresh <= poll:
        rule = (
            f"a number of seconds greater than {POLL_SECONDS} ({poll:g}): otherwise a read "
            "goes stale before the next one is due and the gate flaps"
        )
        if env.get(FRESH_SECONDS, "").strip():
            raise _bad(FRESH_SECONDS, env[FRESH_SECONDS], rule)
        raise ConfigError(f"{FRESH_SECONDS} is unset, and its default {fresh:g} is not {rule}")
    return Settings(region, arn, endpoints, upstream, listen, open_paths, poll, fresh)


# -- logging ----------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line, so the cluster's log pipeline can index the fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        doc.update(getattr(record, "fields", {}))
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # botocore logs every credential lookup and retry decision at INFO/DEBUG; the gate's own
    # lines are the ones that matter.
    logging.getLogger("botocore").setLevel(logging.WARNING)


def _event(level: int, event: str, **fields: Any) -> None:
    log.log(level, event, extra={"fields": fields})


# -- the gate ---------------------------------------------------------------------------------

REASON_OPEN = "routing control On, read is fresh"
REASON_OFF = "routing control Off"
REASON_NEVER_READ = "no successful read of the routing control yet"
REASON_STALE = "no fresh read of the routing control"


class Decision(NamedTuple):
    open: bool
    reason: str

    @property
    def blind(self) -> bool:
        """The gate does not know the control's state (as opposed to knowing it is Off)."""
        return self.reason in (REASON_NEVER_READ, REASON_STALE)


class Gate:
    """The last successful read of the routing control, and the decision it gives now."""

    def __init__(self, fresh_seconds: float) -> None:
        self._fresh = fresh_seconds
        self._lock = threading.Lock()
        self._last: tuple[bool, float] | None = None
        self._reported: Decision | None = None

    def record(self, on: bool, read_at: float) -> None:
        with self._lock:
            self._last = (on, read_at)

    def decide(self) -> Decision:
        """Open iff the last successful read said On and is younger than the freshness window.

        Every caller (the poller each cycle, the proxy each request) goes through here, so a
        change is logged once, by whichever notices it first."""
        with self._lock:
            now = time.monotonic()
            age: float | None = None
            if self._last is None:
                decision = Decision(False, REASON_NEVER_READ)
            else:
                on, read_at = self._last
                age = now - read_at
                if age >= self._fresh:
                    decision = Decision(False, REASON_STALE)
                elif not on:
                    decision = Decision(False, REASON_OFF)
                else:
                    decision = Decision(True, REASON_OPEN)
            if decision != self._reported:
                self._reported = decision
                _event(
                    logging.WARNING if not decision.open else logging.INFO,
                    "gate_open" if decision.open else "gate_closed",
                    reason=decision.reason,
                    last_read_age_seconds=None if age is None else round(age, 3),
                    fresh_seconds=self._fresh,
                )
            return decision


# -- reading the routing control ---------------------------------------------------------------


class UnexpectedAnswerError(Exception):
    """An answer without a state the model allows; treated like any failed call."""


def make_clients(settings: Settings) -> list[Any]:
    """One client per cluster endpoint, each signing for that endpoint's region.

    ARC's own example creates the client with the endpoint's URL and the endpoint's region,
    and tries the endpoints in turn until one answers ("Use GetRoutingControlState with an AWS
    SDK", https://docs.aws.amazon.com/r53recovery/latest/dg/example_route53-recovery-cluster_GetRoutingControlState_section.html).
    botocore's own retries are off (``total_max_attempts`` counts the first attempt, so 1
    means none): a retry against an endpoint that is down costs more time than moving on to
    the next one, which is what ARC asks callers to do.

    The General Reference ("Amazon Application Recovery Controller (ARC) endpoints and quotas",
    https://docs.aws.amazon.com/general/latest/gr/arc.html) also says to give us-west-2 as the
    Region for the Recovery Cluster API; the SDK examples above sign for each endpoint's own
    Region instead, and so does this program, as the project's failover handler does.

    Credentials are resolved before any client exists, in a session for the pod's own region:
    botocore creates the STS client of the web identity provider at the first resolution, in
    the region of the client that triggered it, so the first endpoint's region would otherwise
    decide, and us-east-1's STS is no use to dr while us-east-1 is down (shown with botocore
    1.44 in tests/test_write_gate.py)."""
    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=settings.call_timeout,
        read_timeout=settings.call_timeout,
    )
    session = Session(region_name=settings.region)
    session.get_credentials()
    return [
        session.client(
            "route53-recovery-cluster",
            region_name=endpoint.region,
            endpoint_url=endpoint.url,
            config=config,
        )
        for endpoint in settings.endpoints
    ]


class Poller(threading.Thread):
    """Reads the routing control every GATE_POLL_SECONDS through the cluster's endpoints.

    ARC keeps at least three of a cluster's five regional endpoints available and cycles them
    through maintenance, and asks callers to try another endpoint when one does not answer
    ("Getting and updating routing control states using the ARC API (recommended)",
    https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.update.api.html). So any
    error on an endpoint (connection refused, timeout, any ClientError, including
    EndpointTemporarilyUnavailableException, "The cluster endpoint isn't available. Try another
    cluster endpoint.") moves on to the next one, and the endpoint that answered last is tried
    first next time. A cycle in which no endpoint answers records nothing: the gate then closes
    when the last good read goes stale, never on a guess."""

    def __init__(
        self, settings: Settings, clients: list[Any], gate: Gate, stop: threading.Event
    ) -> None:
        super().__init__(name="write-gate-poller", daemon=True)
        self._settings = settings
        self._clients = clients
        self._gate = gate
        self._halt = stop
        self._first = 0

    def run(self) -> None:
        while not self._halt.is_set():
            started = time.monotonic()
            self.poll_once()
            self._gate.decide()
            self._halt.wait(max(0.0, self._settings.poll_seconds - (time.monotonic() - started)))

    def poll_once(self) -> bool:
        count = len(self._clients)
        for offset in range(count):
            index = (self._first + offset) % count
            endpoint = self._settings.endpoints[index]
            # The state was current at some moment between sending and the answer; dating the
            # read from before the call is the side that can only make it look older.
            sent_at = time.monotonic()
            try:
                state = self._read(self._clients[index])
            except ClientError as error:
                failure = error.response.get("Error", {}).get("Code", "ClientError")
            except Exception as error:
                # BotoCoreError (connection, timeout, credentials), an unexpected answer, or
                # anything else: still only a failed read of one endpoint. The poller must
                # survive it, or the gate would stay closed for good.
                failure = f"{type(error).__name__}: {error}"
            else:
                self._first = index
                self._gate.record(state == "On", sent_at)
                return True
            _event(
                logging.WARNING,
                "endpoint_failed",
                region=endpoint.region,
                endpoint=endpoint.url,
                error=failure,
                seconds=round(time.monotonic() - sent_at, 3),
            )
        return False

    def _read(self, client: Any) -> str:
        answer = client.get_routing_control_state(RoutingControlArn=self._settings.control_arn)
        state = answer.get("RoutingControlState")
        # The service model allows only these two values (RoutingControlState enum).
        if state not in ("On", "Off"):
            raise UnexpectedAnswerError(f"RoutingControlState={state!r}")
        return state


# -- the proxy --------------------------------------------------------------------------------


class GateServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, settings: Settings, gate: Gate) -> None:
        self.settings = settings
        self.gate = gate
        self.draining = False
        self._active = 0
        self._idle = threading.Condition()
        super().__init__(("0.0.0.0", settings.listen_port), GateHandler)

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[None]:
        with self._idle:
            self._active += 1
        try:
            yield
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def wait_idle(self, seconds: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout=seconds)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            return  # the client went away; nothing to answer and nothing wrong here
        _event(logging.ERROR, "handler_error", error=f"{type(error).__name__}: {error}")


class GateHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "write-gate"
    timeout = IDLE_SECONDS

    def version_string(self) -> str:
        return self.server_version

    @property
    def gate_server(self) -> GateServer:
        server = self.server
        assert isinstance(server, GateServer)
        return server

    def log_message(self, format: str, *args: Any) -> None:
        # One line per request would drown the state changes; the gateway logs its requests.
        return

    def _serve(self) -> None:
        server = self.gate_server
        with server.in_flight():
            self._handle(server)
        if server.draining:
            self.close_connection = True

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def _handle(self, server: GateServer) -> None:
        if self.headers.get_all("Transfer-Encoding"):
            # Only Content-Length bodies are relayed; a chunked body cannot be skipped without
            # parsing it, so the connection is closed after the answer.
            self.close_connection = True
            self._reply(411, "length_required", "Send the body with a Content-Length.")
            self._linger()
            return
        lengths = set(self.headers.get_all("Content-Length") or [])
        if len(lengths) > 1 or not all(v.strip().isdigit() for v in lengths):
            self.close_connection = True
            self._reply(400, "bad_request", "Content-Length is not a single number.")
            self._linger()
            return
        length = int(lengths.pop()) if lengths else None
        # The body is read before the gate is asked, so that a refused request leaves the
        # connection ready for the next one, and the decision is as late as it can be.
        body = self.rfile.read(length) if length else b""
        if length and len(body) < length:
            self.close_connection = True
            return
        parts = urlsplit(self.path)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        decision = server.gate.decide()
        if parts.path in server.settings.open_paths:
            if decision.blind:
                self._blind(decision)
                return
        elif not decision.open:
            self._refuse(decision)
            return
        self._forward(server.settings.upstream_port, target, body, length is not None)

    def _linger(self) -> None:
        """Close after an answer that left the request body unread, without losing the answer.

        Closing a socket with unread input sends a reset, which can destroy the answer before
        the client reads it; so say we are done sending, then read and drop what the client
        still sends until it closes, for a bounded time and amount."""
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(LINGER_SECONDS)
            dropped = 0
            while dropped < LINGER_BYTES:
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                dropped += len(chunk)

    def _refuse(self, decision: Decision) -> None:
        self._reply(
            503,
            "region_not_accepting_orders",
            "This region does not take orders now; retry with a fresh DNS answer and a new "
            "connection.",
            reason=decision.reason,
            extra_headers={"Retry-After": "1"},
        )

    def _blind(self, decision: Decision) -> None:
        self._reply(
            503,
            "write_gate_blind",
            "This pod cannot read its region's routing control, so it takes no orders.",
            reason=decision.reason,
        )

    def _reply(
        self,
        status: int,
        error: str,
        message: str,
        reason: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        doc: dict[str, str] = {"error": error, "message": message}
        if reason is not None:
            doc["reason"] = reason
        payload = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection or self.gate_server.draining:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _forward(self, port: int, target: str, body: bytes, had_length: bool) -> None:
        dropped = _connection_tokens(self.headers.get_all("Connection") or [])
        # Expect: 100-continue was answered here already (the body is in hand); passing it on
        # would only make the gateway send an interim response.
        dropped |= {"content-length", "expect"}
        upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=UPSTREAM_TIMEOUT_SECONDS)
        try:
            upstream.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in dropped:
                    upstream.putheader(name, value)
            if "Host" not in self.headers:
                upstream.putheader("Host", f"127.0.0.1:{port}")
            if had_length:
                upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body or None)
            response = upstream.getresponse()
            payload = response.read()
            status, reason, headers = response.status, response.reason, response.getheaders()
        except (OSError, http.client.HTTPException) as error:
            self._reply(
                502,
                "gateway_unreachable",
                "The order gateway in this pod did not answer.",
                reason=f"{type(error).__name__}: {error}",
            )
            return
        finally:
            upstream.close()
        self._relay(status, reason, headers, payload)

    def _relay(
        self, status: int, reason: str, headers: list[tuple[str, str]], payload: bytes
    ) -> None:
        dropped = _connection_tokens([v for k, v in headers if k.lower() == "connection"])
        upstream_length = next((v for k, v in headers if k.lower() == "content-length"), None)
        self.send_response_only(status, reason)
        for name, value in headers:
            if name.lower() not in dropped and name.lower() != "content-length":
                self.send_header(name, value)
        # No body follows 1xx, 204 and 304, nor any answer to HEAD (RFC 9112, 6.3), and 1xx and
        # 204 must not carry Content-Length (RFC 9110, 8.6); for HEAD and 304 the gateway's own
        # Content-Length describes the body a GET would get, so it is passed on as it is.
        bodiless = status < 200 or status in (204, 304) or self.command == "HEAD"
        if bodiless:
            if upstream_length is not None and status != 204 and status >= 200:
                self.send_header("Content-Length", upstream_length)
        else:
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection or self.gate_server.draining:
            self.send_header("Connection", "close")
        self.end_headers()
        if not bodiless:
            self.wfile.write(payload)


def _connection_tokens(values: list[str]) -> set[str]:
    named = {token.strip().lower() for value in values for token in value.split(",")}
    return (named - {""}) | HOP_BY_HOP


# -- main -------------------------------------------------------------------------------------


def main() -> int:
    configure_logging()
    try:
        settings = load_settings(os.environ)
    except ConfigError as error:
        print(f"write-gate: bad configuration: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        _event(logging.INFO, "stopping", signal=signal.Signals(signum).name)
        stop.set()

    # Before the port opens: a SIGTERM that comes as soon as the pod looks started must still
    # take the graceful path.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    gate = Gate(settings.fresh_seconds)
    poller = Poller(settings, make_clients(settings), gate, stop)
    try:
        server = GateServer(settings, gate)
    except OSError as error:
        _event(logging.ERROR, "listen_failed", port=settings.listen_port, error=str(error))
        return 1
    serving = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
    )
    _event(
        logging.INFO,
        "started",
        listen_port=settings.listen_port,
        upstream_port=settings.upstream_port,
        endpoints=[e.region for e in settings.endpoints],
        open_paths=sorted(settings.open_paths),
        poll_seconds=settings.poll_seconds,
        fresh_seconds=settings.fresh_seconds,
    )
    gate.decide()  # logs the initial closed state
    poller.start()
    serving.start()
    while not stop.wait(1.0):
        pass
    server.draining = True
    server.shutdown()
    server.server_close()
    drained = server.wait_idle(DRAIN_SECONDS)
    poller.join(timeout=settings.call_timeout * 2 + 1)
    _event(logging.INFO, "stopped", drained=drained)
    return 0


if __name__ == "__main__":
    sys.exit(main())
