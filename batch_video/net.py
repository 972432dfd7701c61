"""Outbound HTTP driven by feed content, through one guarded fetcher.

A feed is written by whoever controls the shop's catalog export, so the links
in it may point anywhere: at the metadata service of the cloud the renderer runs
in, at an admin port on loopback, or at a host that answers one byte a second.
`fetch` is the only way feed content reaches the network:

- `http` and `https` only;
- the host is resolved and refused when any of its addresses is loopback,
  private, link-local, CGNAT, unique-local, multicast, unspecified, reserved or
  documentation space (IPv4 and IPv6, including IPv4 addresses embedded in
  IPv6: mapped, 6to4, NAT64, Teredo), unless an explicit allow-list says
  otherwise; the check happens inside the connect call and the socket goes to
  the very address that was checked, so DNS cannot answer differently between
  check and use;
- redirects are followed by hand, each hop checked again, at most a few;
- one deadline covers the whole download (every redirect, connect, header and
  body read), and after a short grace period the body must keep a minimum
  transfer rate; a byte cap bounds what is kept.

The operator's own feed URL is configuration, not feed content: it goes
through the same fetcher with `AddressPolicy.anywhere()`, so it keeps the
deadline and the caps but may point at an internal host.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import urljoin, urlsplit

import httpcore

from batch_video.redact import redact_url

logger = logging.getLogger(__name__)

USER_AGENT = "batch-video/0.1"
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
ALLOWED_SCHEMES = ("http", "https")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Address blocks a feed link must never reach, with the words used in refusals.
# `ipaddress`'s own flags are checked too; this table makes the refusal explicit
# and independent of the Python version's view of which blocks are "global".
_BLOCKED_V4 = [
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
]
_BLOCKED_V6 = [
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/8", "reserved"),  # includes the deprecated IPv4-compatible ::a.b.c.d
    ("64:ff9b:1::/48", "private"),
    ("100::/64", "discard"),
    ("2001::/23", "reserved"),  # IETF protocol assignments (Teredo's embedded address is checked below)
    ("2001:db8::/32", "documentation"),
    ("fc00::/7", "unique-local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
]
_BLOCKED = [(ipaddress.ip_network(net), reason) for net, reason in _BLOCKED_V4 + _BLOCKED_V6]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class FetchError(Exception):
    """A download that did not happen; `retryable` says whether trying again may help."""

    retryable = False


class Refused(FetchError):
    """The link may not be fetched at all (scheme, address, redirects)."""


class TooLarge(FetchError):
    """The response is larger than the cap."""


class TooSlow(FetchError):
    """The download missed its deadline or its minimum transfer rate."""


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = status >= 500 or status in (408, 425, 429)


class NetworkError(FetchError):
    """Connect/read failures, resets, TLS and protocol errors: worth another try."""

    retryable = True


def refusal_reason(address: IPAddress) -> str | None:
    """Why `address` may not be contacted for feed content, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = refusal_reason(embedded)
            return f"{reason} (embedded in {address})" if reason else None
    for network, reason in _BLOCKED:
        if address.version == network.version and address in network:
            return reason
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if address.is_private or address.is_reserved or not address.is_global:
        return "not public"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64, Teredo client), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.teredo is not None:
        server, client = address.teredo
        # Both ends must be public; report the first that is not.
        return client if refusal_reason(client) else server
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Which hosts feed content may reach: public addresses, plus an explicit allow-list.

    `allow` holds host names (exact, or `*.example.com` for subdomains) and
    CIDR blocks or single addresses (`10.1.2.0/24`, `127.0.0.1`): a shop whose
    images live on an internal host, or a test server on loopback. `guard=False`
    lets every address through (the operator's own feed URL).
    """

    allow: tuple[str, ...] = ()
    guard: bool = True

    @classmethod
    def anywhere(cls) -> "AddressPolicy":
        return cls(guard=False)

    @classmethod
    def parse(cls, text: str | Iterable[str]) -> "AddressPolicy":
        """From a setting like `images.intranet, 10.20.0.0/16, 127.0.0.1` (commas or whitespace)."""
        parts = text.replace(",", " ").split() if isinstance(text, str) else [str(p).strip() for p in text]
        allow = []
        for part in parts:
            if not part:
                continue
            if _as_network(part) is None and not _looks_like_host(part):
                raise ValueError(f"{part!r} is neither a host name nor an address or CIDR block")
            allow.append(part.lower())
        return cls(allow=tuple(allow))

    def host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for entry in self.allow:
            if entry.startswith("*.") and host.endswith(entry[1:]):
                return True
            if entry == host:
                return True
        return False

    def address_allowed(self, address: IPAddress) -> bool:
        for entry in self.allow:
            network = _as_network(entry)
            if network is not None and address.version == network.version and address in network:
                return True
        return False


def _as_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip("[]"), strict=False)
    except ValueError:
        return None


def _looks_like_host(text: str) -> bool:
    name = text[2:] if text.startswith("*.") else text
    return bool(name) and all(part and part.replace("-", "").isalnum() for part in name.split("."))


Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (an address literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def checked_addresses(host: str, port: int, policy: AddressPolicy, resolver: Resolver = system_resolver) -> list[str]:
    """Resolve `host` and return the addresses to connect to; `Refused` when any of them is not allowed.

    All addresses are checked, not just the first: a name answering with a
    public and a private address is refused, so the outcome never depends on
    which one the connection would have tried.
    """
    host = host.strip("[]")
    try:
        found = resolver(host, port)
    except (socket.gaierror, UnicodeError) as err:
        raise NetworkError(f"cannot resolve host {host!r}: {err}") from None
    if not found:
        raise NetworkError(f"host {host!r} has no address")
    if not policy.guard or policy.host_allowed(host):
        return found
    for text in found:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
        reason = refusal_reason(address)
        if reason and not policy.address_allowed(address):
            raise Refused(f"host {host!r} resolves to a {reason} address ({address}), which feed links may not reach")
    return found


@dataclass(frozen=True)
class FetchLimits:
    """How long and how much: one deadline for everything, a minimum rate after a grace period, a byte cap."""

    deadline_s: float = 60.0
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0
    min_rate_bytes_s: float = 2048.0
    rate_grace_s: float = 5.0
    max_bytes: int = 40 * 1024 * 1024
    max_redirects: int = 4


@dataclass(frozen=True)
class Fetched:
    """What a finished download returned (the body went to the caller's sink)."""

    url: str  # after redirects
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    size_bytes: int = 0
    redirects: int = 0


class _Clock:
    """The one deadline of a fetch, shared by the connect and every read and write."""

    def __init__(self, limits: FetchLimits, monotonic: Callable[[], float]) -> None:
        self.monotonic = monotonic
        self.started = monotonic()
        self.deadline = self.started + limits.deadline_s
        self.limits = limits
        self.expired = False

    def remaining(self) -> float:
        return self.deadline - self.monotonic()

    def cap(self, timeout: float | None) -> float:
        """`timeout` shortened to what is left of the deadline; a timeout right away once it has passed."""
        remaining = self.remaining()
        if remaining <= 0:
            self.expired = True
            raise httpcore.ReadTimeout("overall deadline passed")
        return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, clock: _Clock) -> None:
        self.inner, self.clock = inner, clock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        bounded = self.clock.cap(timeout)
        try:
            return self.inner.read(max_bytes, bounded)
        except httpcore.ReadTimeout:
            if timeout is None or bounded < timeout:
                self.clock.expired = True  # the deadline ended this read, not the per-read timeout
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, self.clock.cap(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self.inner.start_tls(ssl_context, server_hostname, self.clock.cap(timeout)), self.clock)

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses the policy allows, and to exactly the address it checked."""

    def __init__(self, policy: AddressPolicy, clock: _Clock, resolver: Resolver) -> None:
        self.policy, self.clock, self.resolver = policy, clock, resolver

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        addresses = checked_addresses(host, port, self.policy, self.resolver)
        error: Exception | None = None
        for address in addresses:
            try:
                stream = super().connect_tcp(address, port, self.clock.cap(timeout), local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                error = err
                continue
            return _DeadlineStream(stream, self.clock)
        assert error is not None
        raise error

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise Refused("unix sockets are not reachable from feed links")


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL with a host; `Refused` otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise Refused(f"invalid URL: {err}") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise Refused(f"only http and https links can be fetched, not {scheme or 'a link without a scheme'!r}")
    if not parts.hostname:
        raise Refused("the link has no host")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


def fetch(
    url: str,
    sink: BinaryIO,
    *,
    policy: AddressPolicy,
    limits: FetchLimits = FetchLimits(),
    headers: Mapping[str, str] | None = None,
    resolver: Resolver = system_resolver,
    monotonic: Callable[[], float] = time.monotonic,
    accept_status: Callable[[int], bool] = lambda status: 200 <= status < 300,
) -> Fetched:
    """Download `url` into `sink` within `limits`, following redirects by hand under `policy`.

    Returns once the whole body is written. A status that `accept_status`
    refuses raises `HTTPStatusError` before any body is read (a 304 is returned
    with an empty body when accepted). Everything else that goes wrong raises
    a `FetchError`: `Refused`, `TooLarge`, `TooSlow`, `NetworkError`.
    """
    clock = _Clock(limits, monotonic)
    backend = _GuardedBackend(policy, clock, resolver)
    request_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **(headers or {})}
    timeouts = {"connect": limits.connect_timeout_s, "read": limits.read_timeout_s,
                "write": limits.read_timeout_s, "pool": limits.connect_timeout_s}
    current = url
    with httpcore.ConnectionPool(ssl_context=ssl.create_default_context(), network_backend=backend,
                                 max_connections=1, retries=0) as pool:
        for hop in range(limits.max_redirects + 1):
            check_url(current)
            try:
                with pool.stream("GET", current, headers=request_headers, extensions={"timeout": timeouts}) as response:
                    response_headers = _headers(response.headers)
                    location = response_headers.get("location", "")
                    if response.status in REDIRECT_STATUSES and location:
                        current = urljoin(current, location)
                        continue
                    if not accept_status(response.status):
                        raise HTTPStatusError(f"the server answered HTTP {response.status}", response.status)
                    encoding = response_headers.get("content-encoding", "identity").strip().lower()
                    if encoding not in ("", "identity", "gzip") or (
                            encoding == "gzip" and "gzip" not in request_headers.get("Accept-Encoding", "")):
                        raise Refused(f"the server sent content encoded as {encoding!r}, which was not asked for")
                    declared = response_headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > limits.max_bytes:
                        raise TooLarge(f"the response is {declared} bytes, more than the {limits.max_bytes} byte cap")
                    size = _copy_body(response, sink, clock)
                    return Fetched(url=current, status=response.status, headers=response_headers,
                                   size_bytes=size, redirects=hop)
            except (httpcore.TimeoutException,) as err:
                if clock.expired or clock.remaining() <= 0.05:
                    raise TooSlow(f"the download did not finish within {limits.deadline_s:g} s") from None
                raise NetworkError(f"timed out: {type(err).__name__}") from None
            except (httpcore.NetworkError, httpcore.ProtocolError, ssl.SSLError, OSError) as err:
                raise NetworkError(f"{type(err).__name__}: {err}") from None
            except httpcore.UnsupportedProtocol as err:
                raise Refused(str(err)) from None
    raise Refused(f"more than {limits.max_redirects} redirects (last to {redact_url(current)})")


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw}


def _copy_body(response: httpcore.Response, sink: BinaryIO, clock: _Clock) -> int:
    limits = clock.limits
    size = 0
    # The rate counts from the first body byte: a server may take its time to start (the deadline bounds that).
    body_started = clock.monotonic()
    for chunk in response.iter_stream():
        size += len(chunk)
        if size > limits.max_bytes:
            raise TooLarge(f"the response is larger than the {limits.max_bytes} byte cap")
        sink.write(chunk)
        elapsed = clock.monotonic() - body_started
        if elapsed > limits.rate_grace_s and size / elapsed < limits.min_rate_bytes_s:
            raise TooSlow(
                f"the download is too slow ({size / elapsed:.0f} bytes/s after {elapsed:.0f} s;"
                f" at least {limits.min_rate_bytes_s:.0f} bytes/s is needed)")
    return size


def fetch_bytes(url: str, *, policy: AddressPolicy, limits: FetchLimits = FetchLimits(), **kwargs: Any) -> tuple[Fetched, bytes]:
    """`fetch` into memory (for bodies bounded by `limits.max_bytes`, like a product photo)."""
    import io

    buffer = io.BytesIO()
    fetched = fetch(url, buffer, policy=policy, limits=limits, **kwargs)
    return fetched, buffer.getvalue()
