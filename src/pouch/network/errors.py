"""Errors raised by the network layer. ``mgr`` translates them at its boundary.

NetworkError                anything the network layer could not do
├── NetworkNotFound         no network by that name, id or id prefix
├── NetworkExists           a network by that name already exists
├── NetworkInUse            a network still has endpoints, or is predefined
├── EndpointExists          a container already has an endpoint on the network
├── InvalidAddress          a subnet, gateway, address or MAC that is malformed
├── SubnetOverlap           a new subnet overlaps an existing network's
├── AddressInUse            the requested address is taken
├── PoolExhausted           no free address is left in a subnet
├── PortInUse               a host port is already published or bound
└── SandboxError            wiring a container's network namespace failed
"""


class NetworkError(Exception):
    pass


class NetworkNotFound(NetworkError):
    def __init__(self, name_or_id: str) -> None:
        super().__init__(f"network {name_or_id} not found")
        self.name_or_id = name_or_id


class NetworkExists(NetworkError):
    def __init__(self, name: str) -> None:
        super().__init__(f"network with name {name} already exists")
        self.name = name


class NetworkInUse(NetworkError):
    pass


class EndpointExists(NetworkError):
    pass


class InvalidAddress(NetworkError):
    pass


class SubnetOverlap(NetworkError):
    pass


class AddressInUse(NetworkError):
    def __init__(self, address: str, network: str) -> None:
        super().__init__(f"address {address} is already in use on network {network}")
        self.address = address
        self.network = network


class PoolExhausted(NetworkError):
    def __init__(self, subnet: str) -> None:
        super().__init__(f"no free address left in subnet {subnet}")
        self.subnet = subnet


class PortInUse(NetworkError):
    pass


class SandboxError(NetworkError):
    pass
