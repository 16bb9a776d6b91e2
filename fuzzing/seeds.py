"""Write the seed inputs of every harness to ``DIR/<harness>/`` (``make fuzz`` starts from
them; libFuzzer adds what it finds next to them, outside the repository)."""

from __future__ import annotations

import sys
from pathlib import Path

SEEDS: dict[str, list[bytes]] = {
    "frames": [
        b'{"t":"hello","v":1,"user":"alice","password":"pw","id":1}\n',
        b'{"t":"state","ch":"alpha","ts":1,"account":{"login":"1","currency":"USD","balance":1,'
        b'"equity":1,"leverage":100,"mode":"hedging"},"positions":[{"id":"1","symbol":"EURUSD",'
        b'"side":"buy","volume":0.1,"price":1.1,"time":1}],"id":2}\n',
        b'{"t":"ticks","id":"b1","rows":[["EURUSD",1700000000000,1.1,1.2],'
        b'["GBPUSD",1700000000001,1.3,1.31,0,5]]}\n',
        b'{"t":"ticks","id":"c1","symbols":["EURUSD","GBPUSD"],"sym":[0,1],'
        b'"time_ms":[1700000000000,1700000000001],"bid":[1.1,1.3],"ask":[1.2,1.31],'
        b'"volume":[1,5]}\n',
        b'{"t":"sub","ch":"alpha","id":3}\n{"t":"ping","id":4}\n{"t":"sub","ticks":["*"]}\n',
        b'{"t":"file_put","name":"chart","data":"aGVsbG8=","meta":{"symbol":"EURUSD",'
        b'"period":60},"id":5}\n{"t":"file_get","name":"chart","version":1}\n'
        b'{"t":"file_list"}\n',
    ],
    "signals": [
        b"<<GBPUSD|0.25>><<EURUSD|-0.10>>",
        b"<<XAUUSD|0.00>><<US30|1.50>><<BAD",
        b"junk<<A|x>>",
    ],
    "template": [
        b"EURUSD\0\0\0\0" + b"60\0\0\0\0\0\0\0\0" + "<chart>\r\n</chart>".encode("utf-16-le"),
        b"GBPUSD\0\0\0\0" + b"1440\0\0\0\0\0\0",
    ],
    "ticks": [b"EURUSD 1.10410\0", b"EURUSD 1.10410 1.10420 1700000000000", b"XAUUSD 2034.55  \n"],
    "mt5csv": [
        b"<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>\n"
        b"2024.01.02\t10:00:00.100\t1.10410\t1.10420\t\t\t6\n"
        b"2024.01.02\t10:00:30.250\t1.10430\t\t\t\t2\n"
    ],
}


def main() -> None:
    root = Path(sys.argv[1])
    for name, seeds in SEEDS.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for index, seed in enumerate(seeds):
            (root / name / f"seed{index}").write_bytes(seed)


if __name__ == "__main__":
    main()
