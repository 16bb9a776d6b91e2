"""Sans-I/O protocol core: bytes in, events and bytes out. Imports neither asyncio nor socket."""
