"""Datagrams many at a time (hub/article/udp_batch.py) on real sockets: recvmmsg, and the one-by-one
fallback used where recvmmsg is not there."""

from __future__ import annotations

import socket

import pytest

from tradewire.hub.article.udp_batch import BATCH, SIZE, BatchReceiver


@pytest.mark.parametrize("batched", [True, False], ids=["recvmmsg", "recvfrom"])
def test_every_datagram_arrives_whole_with_its_sender(batched: bool) -> None:
    receiving = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiving.bind(("127.0.0.1", 0))
    receiving.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    receiving.settimeout(0.05)
    receiver = BatchReceiver(receiving)
    if not batched:
        receiver.batched = False
    elif not receiver.batched:
        pytest.skip("recvmmsg is not available on this platform: the fallback is tested")
    sending = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sending.bind(("127.0.0.2", 0))  # another loopback address: the sender is told apart
    payloads = [b"EURUSD %.5f\0" % (1.1 + i / 1e5) for i in range(BATCH * 3 + 7)]
    payloads.append(b"x" * (SIZE + 100))  # too long: cut at SIZE
    for payload in payloads:
        sending.sendto(payload, receiving.getsockname())
    got = []
    while len(got) < len(payloads):
        batch = receiver.receive(1.0)
        assert batch, f"only {len(got)} of {len(payloads)} arrived"
        assert len(batch) <= (BATCH if batched else 1)
        got += batch
    assert [data for data, _ in got[:-1]] == payloads[:-1]
    assert got[-1][0] == payloads[-1][:SIZE]
    assert {address for _, address in got} == {socket.inet_aton("127.0.0.2")}
    assert receiver.receive(0.01) == []  # nothing more: the wait ends empty
    receiving.close()
    with pytest.raises(OSError):
        receiver.receive(0.01)
    sending.close()
