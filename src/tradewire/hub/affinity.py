"""``serve --workers N``: every connection from one source address goes to the same worker.

The workers share one port (``SO_REUSEPORT``), and the kernel would spread connections by a hash
of the whole 4-tuple, so one address's hellos reached every worker, each with its own count of
that address's failed logins: 10 password checks instead of 5 with two workers, and the first
ban recorded as offense 2. A classic BPF program attached to the port's socket group instead
picks the worker from the packet's source address (``SO_ATTACH_REUSEPORT_CBPF``, Linux 4.5+):
one address, one worker, one count, one ban. Many addresses still spread over all workers.

For IPv4 the program reads the whole source address; for IPv6 its bytes 4-7, within the /64 that
bans count as one source.
"""

from __future__ import annotations

import ctypes
import logging
import socket
from typing import Any

log = logging.getLogger(__name__)

SO_ATTACH_REUSEPORT_CBPF = 51
SKF_NET_OFF = -0x100000  # offsets from the network (IP) header
_LD_W_ABS, _ALU_MOD_K, _RET_A = 0x20, 0x94, 0x16


class _Filter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_Filter))]


def steer_by_source(sock: Any, workers: int) -> bool:
    """Attach the program to ``sock``'s reuseport group; False (and a warning) where the
    kernel does not take it, in which case one address may reach several workers."""
    code = (_Filter * 3)(
        _Filter(_LD_W_ABS, 0, 0, (SKF_NET_OFF + 12) & 0xFFFFFFFF),  # A = source address word
        _Filter(_ALU_MOD_K, 0, 0, workers),  # A %= workers
        _Filter(_RET_A, 0, 0, 0),  # the socket at index A
    )
    program = _Program(len(code), code)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, bytes(program))
    except OSError as exc:
        log.warning(
            "workers: cannot steer connections by source address (%s): one address may reach "
            "several workers, each counting its failed logins apart",
            exc,
        )
        return False
    return True
