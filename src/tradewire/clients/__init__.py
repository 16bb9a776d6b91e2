"""Python clients of the hub."""

from tradewire.clients.hub_client import HubClient

__all__ = ["HubClient"]
