"""The hub: asyncio servers that authenticate clients and fan out signal channels."""
