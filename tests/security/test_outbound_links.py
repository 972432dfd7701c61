"""Image links from a feed can't reach internal hosts, can't hold a run, and can't grow without bound.

Real servers on loopback play the internal host, the redirector and the slow
host. The refusal of every other non-public range is tested at the guard itself
(resolution and address check) with a resolver that answers what an attacker's
DNS would, and with connections made impossible: nothing leaves loopback.
"""

from __future__ import annotations

import io
import socket
from decimal import Decimal

import pytest
from PIL import Image

from batch_video import net
from batch_video.errors import ProductDataError, TransientError
from batch_video.images import prepare_image
from batch_video.links import IMAGE_LIMITS, LinkPolicy
from batch_video.models import Product
from tests.security.servers import LoopbackServer, drip, drip_headers, redirect_to, send_bytes, timed


def product(link: str) -> Product:
    return Product(id="EVIL-1", key="evil-1", title="T", price=Decimal("10"), currency="RON", image_link=link)


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 30, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def no_connections(monkeypatch):
    """Any attempt to open a socket fails the test: the guard must refuse before connecting."""
    attempts: list[tuple] = []

    def refuse(address, *args, **kwargs):
        attempts.append(address)
        raise AssertionError(f"a connection to {address} was attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


@pytest.fixture
def internal_server():
    """An "internal" service on loopback with a picture worth stealing."""
    with LoopbackServer({"/secret.jpg": send_bytes(jpeg(), "image/jpeg")}) as server:
        yield server


# --------------------------------------------------------------------------- the guard


BLOCKED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),  # the cloud metadata service
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("0.0.0.0", "unspecified"),
    ("224.0.0.251", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("198.18.0.1", "benchmarking"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fc00::1", "unique-local"),
    ("fd12:3456:789a::1", "unique-local"),
    ("fe80::1", "link-local"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("::ffff:169.254.169.254", "link-local"),
    ("::ffff:10.0.0.1", "private"),
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
    ("::127.0.0.1", "reserved"),  # IPv4-compatible (deprecated)
]


@pytest.mark.parametrize("address,reason", BLOCKED)
def test_the_guard_refuses_every_non_public_range_before_connecting(address, reason, no_connections):
    def attacker_dns(host, port):
        return [address]

    with pytest.raises(net.Refused) as err:
        net.fetch_bytes("https://images.shop.example/p.jpg", policy=net.AddressPolicy(), resolver=attacker_dns)
    assert reason in str(err.value)
    assert no_connections == []


@pytest.mark.parametrize("address", ["93.184.215.14", "151.101.1.69", "2606:4700::6810:84e5", "2a00:1450:4001:80b::200e"])
def test_the_guard_lets_public_addresses_through(address):
    assert net.checked_addresses("cdn.shop.example", 443, net.AddressPolicy(), lambda host, port: [address]) == [address]


def test_a_name_with_one_private_address_among_public_ones_is_refused(no_connections):
    with pytest.raises(net.Refused):
        net.checked_addresses("cdn.shop.example", 443, net.AddressPolicy(), lambda host, port: ["93.184.215.14", "10.0.0.5"])


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://2130706433/",  # 127.0.0.1 written as one decimal number
    "http://0x7f000001/",
    "http://[::1]:22/",
    "http://0/",
])
def test_address_literals_in_any_spelling_are_refused_without_a_connection(url, no_connections):
    with pytest.raises(net.Refused):
        net.fetch_bytes(url, policy=net.AddressPolicy())
    assert no_connections == []


@pytest.mark.parametrize("link", ["file:///etc/hostname", "ftp://shop.example/p.jpg", "gopher://127.0.0.1:6379/_INFO",
                                  "data:image/png;base64,iVBORw0KGgo=", "//", "http:///p.jpg"])
def test_only_http_and_https_with_a_host_are_fetched(link, no_connections):
    with pytest.raises(net.Refused):
        net.fetch_bytes(link, policy=net.AddressPolicy())


def test_the_allow_list_takes_hosts_and_cidr_blocks():
    policy = net.AddressPolicy.parse("images.intranet, *.cdn.intranet 10.20.0.0/16,127.0.0.1")
    private = lambda host, port: ["10.9.9.9"]  # noqa: E731
    assert net.checked_addresses("images.intranet", 80, policy, private) == ["10.9.9.9"]
    assert net.checked_addresses("a.cdn.intranet", 80, policy, private) == ["10.9.9.9"]
    assert net.checked_addresses("x", 80, policy, lambda host, port: ["10.20.3.4"]) == ["10.20.3.4"]
    with pytest.raises(net.Refused):
        net.checked_addresses("other.intranet", 80, policy, private)
    with pytest.raises(ValueError):
        net.AddressPolicy.parse("not a host!")


# --------------------------------------------------------------------------- real servers on loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_an_image_link_to_loopback_is_refused_and_never_requested(internal_server, tmp_path, host):
    link = internal_server.url("/secret.jpg", host=host)
    with pytest.raises(ProductDataError) as err:
        prepare_image(product(link), tmp_path / "out")
    assert err.value.product_id == "EVIL-1" and err.value.field == "image_link"
    assert "not allowed" in str(err.value) and "loopback" not in str(err.value)  # no resolution details for the shop owner
    assert internal_server.requests == []
    assert not (tmp_path / "out" / "image.jpg").exists()


def test_a_redirect_from_an_allowed_host_to_loopback_is_refused_at_the_hop(internal_server, tmp_path):
    # The "public" host is played by 127.0.0.2, allow-listed on its own; the internal one stays refused.
    with LoopbackServer(host="127.0.0.2") as public:
        public.routes["/p.jpg"] = redirect_to(internal_server.url("/secret.jpg"))
        policy = LinkPolicy(addresses=net.AddressPolicy.parse("127.0.0.2"))
        with pytest.raises(ProductDataError) as err:
            prepare_image(product(public.url("/p.jpg")), tmp_path / "out", policy=policy)
        assert public.requests == ["/p.jpg"]
    assert internal_server.requests == []
    assert err.value.field == "image_link" and "not allowed" in str(err.value)


def test_allowed_redirects_are_followed_and_counted(tmp_path):
    with LoopbackServer() as server:
        server.routes["/p.jpg"] = send_bytes(jpeg(), "image/jpeg")
        server.routes["/a"] = redirect_to("/b", 301)
        server.routes["/b"] = redirect_to(server.url("/p.jpg"), 307)
        server.routes["/loop"] = redirect_to("/loop")
        policy = net.AddressPolicy.parse("127.0.0.1")
        fetched, body = net.fetch_bytes(server.url("/a"), policy=policy)
        assert (fetched.redirects, fetched.url, body) == (2, server.url("/p.jpg"), jpeg())
        with pytest.raises(net.Refused) as err:
            net.fetch_bytes(server.url("/loop"), policy=policy, limits=net.FetchLimits(max_redirects=3))
        assert "more than 3 redirects" in str(err.value)
        assert server.requests.count("/loop") == 4


def test_a_redirect_to_a_local_file_is_refused(tmp_path):
    with LoopbackServer() as server:
        server.routes["/p.jpg"] = redirect_to("file:///etc/hostname")
        with pytest.raises(net.Refused):
            net.fetch_bytes(server.url("/p.jpg"), policy=net.AddressPolicy.parse("127.0.0.1"))


def test_a_one_byte_per_second_image_host_fails_the_product_by_the_deadline(tmp_path):
    limits = net.FetchLimits(deadline_s=4.0, read_timeout_s=2.0, rate_grace_s=30.0)  # only the deadline can stop it
    with LoopbackServer() as server:
        server.routes["/p.jpg"] = drip(server, jpeg()[:60])
        policy = LinkPolicy(addresses=net.AddressPolicy.parse("127.0.0.1"), limits=limits)
        seconds, error = timed(lambda: prepare_image(product(server.url("/p.jpg")), tmp_path / "out", policy=policy))
    assert isinstance(error, ProductDataError) and error.field == "image_link", error
    assert "did not finish within 4 s" in str(error)
    assert 3.5 < seconds < 4.0 + 3.0


def test_a_slow_image_host_is_dropped_below_the_minimum_rate(tmp_path):
    limits = net.FetchLimits(deadline_s=60.0, read_timeout_s=5.0, rate_grace_s=2.0, min_rate_bytes_s=1024)
    with LoopbackServer() as server:
        server.routes["/p.jpg"] = drip(server, jpeg()[:60], bytes_per_s=4)
        seconds, error = timed(lambda: net.fetch_bytes(server.url("/p.jpg"), policy=net.AddressPolicy.parse("127.0.0.1"),
                                                       limits=limits))
    assert isinstance(error, net.TooSlow) and "too slow" in str(error)
    assert seconds < 2.0 + 3.0


def test_headers_sent_one_byte_per_second_are_cut_by_the_deadline_too():
    with LoopbackServer() as server:
        server.routes["/p.jpg"] = drip_headers(server)
        seconds, error = timed(lambda: net.fetch_bytes(server.url("/p.jpg"), policy=net.AddressPolicy.parse("127.0.0.1"),
                                                       limits=net.FetchLimits(deadline_s=3.0, read_timeout_s=2.0)))
    assert isinstance(error, net.TooSlow), error
    assert seconds < 3.0 + 3.0


def test_a_body_larger_than_declared_or_than_the_cap_is_cut(tmp_path):
    with LoopbackServer() as server:
        server.routes["/big"] = send_bytes(b"x" * 5000)
        with pytest.raises(net.TooLarge):
            net.fetch_bytes(server.url("/big"), policy=net.AddressPolicy.parse("127.0.0.1"), limits=net.FetchLimits(max_bytes=1000))


def test_a_closed_port_is_a_retryable_network_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = LinkPolicy(addresses=net.AddressPolicy.parse("127.0.0.1"), limits=IMAGE_LIMITS)
    with pytest.raises(TransientError):
        prepare_image(product(f"http://127.0.0.1:{port}/p.jpg"), tmp_path / "out", policy=policy)
