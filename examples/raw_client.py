"""Talk to a tradewire hub with nothing but a socket (what an MQL5 program does).

Usage: TRADEWIRE_PASSWORD=... python examples/raw_client.py HOST PORT USER CHANNEL
Logs in, subscribes to CHANNEL, prints every frame the hub sends, answers its pings (a
client that stays silent is dropped after 3 heartbeats) and runs until the hub says bye.
"""

import json
import os
import socket
import sys

host, port, user, channel = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
sock = socket.create_connection((host, port))
hello = {"t": "hello", "v": 1, "user": user, "password": os.environ["TRADEWIRE_PASSWORD"]}
sock.sendall((json.dumps(hello) + "\n").encode() + b'{"t":"sub","id":1,"ch":"%s"}\n' % channel.encode())
for line in sock.makefile("rb"):
    frame = json.loads(line)
    print(frame, flush=True)
    if frame["t"] == "ping":
        sock.sendall(b'{"t":"pong","re":%s}\n' % json.dumps(frame.get("id")).encode())
    elif frame["t"] == "bye" or frame.get("code") in ("auth_failed", "banned"):
        break
