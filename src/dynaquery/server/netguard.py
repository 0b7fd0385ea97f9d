"""Which network addresses a server-side connection may reach, checked where it counts.

An endpoint URL given through the API could point the server at the cloud's metadata service
(and its credentials). `NetworkPolicy` names the forbidden networks; an address is compared after
unwrapping every IPv6 form that carries an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64,
6to4, Teredo), so `[::ffff:169.254.169.254]` is 169.254.169.254. The policy is applied twice:
when settings are saved or tested (the URL's host, resolved), and on every new connection the
botocore clients open (`guard_session`: the address actually connected to), which also covers a
name that did not resolve at first, or resolves elsewhere later (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052's well-known prefix
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215, the last 32 bits again


def embedded_ipv4(address: Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, in the forms that do."""
    if address.version != 6:
        return []
    if address.ipv4_mapped:  # ::ffff:a.b.c.d
        return [address.ipv4_mapped]
    if address.sixtofour:  # 2002:AABB:CCDD::/48
        return [address.sixtofour]
    if address.teredo:  # 2001::/32: the server and the (de-obfuscated) client
        return list(address.teredo)
    value = int(address)
    if address in NAT64 or address in NAT64_LOCAL:
        return [ipaddress.IPv4Address(value & 0xFFFFFFFF)]
    if value >> 32 == 0 and value > 1:  # ::a.b.c.d, IPv4-compatible (deprecated, still routed)
        return [ipaddress.IPv4Address(value)]
    return []


def unwrap(address: Address) -> list[Address]:
    """The address and every IPv4 address it embeds."""
    return [address, *embedded_ipv4(address)]


def parse_address(text: str) -> Address:
    return ipaddress.ip_address(text.split("%")[0])  # a zone index (fe80::1%eth0) is no part of it


class NetworkPolicy:
    """Addresses in `forbidden` (CIDR networks) may not be reached."""

    def __init__(
        self,
        forbidden: Iterable[str | ipaddress.IPv4Network | ipaddress.IPv6Network],
        why: str = "a forbidden address",
    ):
        self.forbidden = tuple(ipaddress.ip_network(n) for n in forbidden)
        self.why = why

    def forbidden_address(self, address: str | Address) -> Address | None:
        """The (unwrapped) address that the policy forbids, or None when it may be reached."""
        if isinstance(address, str):
            address = parse_address(address)
        for candidate in unwrap(address):
            if any(
                candidate in network
                for network in self.forbidden
                if network.version == candidate.version
            ):
                return candidate
        return None


class ForbiddenPeer(Exception):
    """A connection reached an address the policy forbids; it was closed before any request.
    (Not an OSError: urllib3 would replace its message with "Connection aborted".)"""


def _guarded_connection(base, policy: NetworkPolicy):
    class Guarded(base):
        def _new_conn(self):
            sock = super()._new_conn()
            try:
                peer = sock.getpeername()[0]
                bad = policy.forbidden_address(str(peer))
            except (OSError, ValueError):
                bad = None  # not an IP socket (a Unix socket proxy): nothing to compare
            if bad is not None:
                sock.close()
                raise ForbiddenPeer(
                    f"refused: {self.host}:{self.port} connected to {bad}, {policy.why}; "
                    "the connection was closed before anything was sent."
                )
            return sock

    Guarded.__name__ = f"Guarded{base.__name__}"
    return Guarded


def _guarded_pool(base, policy: NetworkPolicy):
    return type(
        f"Guarded{base.__name__}",
        (base,),
        {"ConnectionCls": _guarded_connection(base.ConnectionCls, policy)},
    )


def guard_session(session, policy: NetworkPolicy) -> None:
    """Every client this botocore session creates (DynamoDB, STS for an assumed role) checks the
    address each new connection reached, and refuses a forbidden one."""

    class _GuardedClient:
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            http = self._endpoint.http_session
            # The same dict serves the direct and the proxy pool managers.
            pools = http._pool_classes_by_scheme
            for scheme, pool in list(pools.items()):
                pools[scheme] = _guarded_pool(pool, policy)

    def add_guard(base_classes, **_):
        base_classes.insert(0, _GuardedClient)

    session.register("creating-client-class", add_guard)
