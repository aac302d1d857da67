"""rectify.serving.port_problem: why a server could not listen, said before anything starts."""

from __future__ import annotations

import socket

import pytest

from rectify.serving import port_free, port_problem
from tests.support.smtp import free_port, ipv6_loopback


def test_it_finds_a_free_loopback_port_free() -> None:
    port = free_port()
    assert port_problem("127.0.0.1", port) is None and port_free("127.0.0.1", port)


def test_it_says_a_port_in_use_is_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert port_problem("127.0.0.1", busy.getsockname()[1]) == "already in use"


def test_it_gives_the_systems_reason_for_an_address_this_machine_lacks() -> None:
    problem = port_problem("192.0.2.1", free_port())  # TEST-NET-1: documentation only, never assigned
    assert problem and problem != "already in use"


@pytest.mark.skipif(not ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_it_tries_an_ipv6_address_as_ipv6() -> None:
    with socket.socket(socket.AF_INET6) as probe:
        probe.bind(("::1", 0))
        port = probe.getsockname()[1]
    assert port_problem("::1", port) is None  # before: tried as IPv4, "already in use"
