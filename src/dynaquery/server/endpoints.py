"""Which endpoints the server's connections may reach: link-local and cloud metadata addresses
are refused (where a cloud's instance credentials answer), unless the operator allows them.
Checked when settings come in (the URL's host, resolved) and on every connection the server's
botocore clients open (netguard.guard_session: the address actually reached)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from ..connection import URL_FIELDS, ConnectionConfig
from ..errors import InputError
from .netguard import NetworkPolicy, guard_session, parse_address

ALLOW_NETWORK_ENV = "DYNAQUERY_ALLOW_ENDPOINT_NETWORK"  # read by the command, which passes it on
ALLOWABLE_NETWORKS = ("link-local",)  # what `allow_endpoint_network` may name
LINK_LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16",  # IPv4 link-local: AWS, GCP, Azure, ... metadata at 169.254.169.254
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS's IPv6 metadata address
    )
)


def endpoint_policy(allow_endpoint_network: Iterable[str] = ()) -> NetworkPolicy | None:
    """The server's policy for endpoints: link-local and metadata addresses are refused, unless
    the operator allows them (then None: no policy)."""
    unknown = set(allow_endpoint_network) - set(ALLOWABLE_NETWORKS)
    if unknown:
        raise InputError(
            f"Unknown endpoint network {sorted(unknown)[0]!r}: use {', '.join(ALLOWABLE_NETWORKS)}."
        )
    if "link-local" in allow_endpoint_network:
        return None
    return NetworkPolicy(LINK_LOCAL_NETWORKS, "a link-local or cloud metadata address")


class Endpoints:
    """The policy in force (None: any address), applied to settings and to connections."""

    def __init__(self, policy: NetworkPolicy | None):
        self.policy = policy

    def check(self, settings: dict[str, Any] | ConnectionConfig) -> None:
        """Both endpoint settings of a request's body or of a stored configuration."""
        given = settings if isinstance(settings, dict) else vars(settings)
        for name in URL_FIELDS:
            check_endpoint(given.get(name), name, self.policy)

    def guard_session(self, session) -> None:
        """Installed on every botocore session the server's connections build: each new
        connection's peer address is checked against the policy."""
        if self.policy is not None:
            guard_session(session, self.policy)


def check_endpoint(url: str | None, setting: str, policy: NetworkPolicy | None) -> None:
    """Refuse an endpoint URL whose host is, or resolves to, an address the policy forbids (its
    IPv4 address inside an IPv6 one included). A name that does not resolve now passes: every
    connection is checked again where it lands (netguard.guard_session)."""
    if not url or policy is None:
        return
    for address in _addresses(url):
        bad = policy.forbidden_address(address)
        if bad is not None:
            raise InputError(
                f"The {setting} {url!r} points at {bad}, {policy.why}, which the server does not "
                "reach: start it with `dynaquery serve --allow-endpoint-network link-local` (or "
                f"{ALLOW_NETWORK_ENV}=link-local) to allow it."
            )


def _addresses(url: str) -> set:
    """The addresses a URL's host is, or resolves to now (none when it is no URL: the
    connection's own check says so; none when it does not resolve: it will be unreachable)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return set()
    if not host:
        return set()
    try:
        return {parse_address(host)}
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return set()
    return {parse_address(str(info[4][0])) for info in infos}
