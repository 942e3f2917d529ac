"""Who may see the operations details (`/readyz` checks, `/metrics`): clients on the
internal network (their address, after FORWARDED_ALLOW_IPS, in `ops_networks`) or
anyone with `Authorization: Bearer <ops_token>`.

The default networks are loopback only (127.0.0.0/8, ::1), not the private ranges: in
docker-compose.yml every request from the host's proxy reaches the gateway from the
bridge's private address, so with a proxy that FORWARDED_ALLOW_IPS does not name,
private ranges would let the whole Internet in. Prometheus on another host or
container sends the token instead (its `authorization` setting), or OPS_NETWORKS
names its network.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from typing import Any

from bot.client_address import client_address

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str) -> tuple[Network, ...]:
    """`127.0.0.0/8, ::1, 10.0.0.5` -> networks; an invalid entry is an error at start-up."""
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in value.split(",") if item.strip())


class OpsAccess:
    def __init__(self, networks: str, token: str | None = None) -> None:
        self.networks = parse_networks(networks)
        self.token = token or None

    def in_networks(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:  # "unknown", a test client's name: not an address, so not internal
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks if network.version == ip.version)

    def has_token(self, headers: Mapping[str, str]) -> bool:
        if self.token is None:
            return False
        scheme, _, credentials = (headers.get("authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), self.token.encode())

    def allows(self, scope: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
        """The request may see the details."""
        return self.has_token(headers) or self.in_networks(client_address(scope))
