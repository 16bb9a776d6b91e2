"""Talk to a tradewire hub with nothing but a socket (what an MQL5 program does).

Usage: TRADEWIRE_PASSWORD=... python examples/raw_client.py HOST PORT USER CHANNEL
Logs in, subscribes to CHANNEL and prints every frame the hub sends.
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
    print(json.loads(line), flush=True)
