"""``mt5:[?login=N&server=NAME&path=EXE]``: the options of a MetaTrader 5 account, the
terminal's package loaded, and the connection opened (docs/mt5.md)."""

from __future__ import annotations

import importlib
import os
from typing import Any

from tradewire.brokers.mt5.broker import Mt5Broker, Mt5Options
from tradewire.brokers.registry import spec_options
from tradewire.exceptions import ConfigError


def parse_mt5_spec(spec: str) -> Mt5Options:
    _, _, rest = spec.partition(":")
    return spec_options(spec, rest.removeprefix("?"), Mt5Options)


def load_package() -> Any:
    try:
        return importlib.import_module("MetaTrader5")
    except ImportError:
        raise ConfigError(
            "--broker mt5:: the MetaTrader5 package is not installed; it runs on Windows next "
            "to a MetaTrader 5 terminal: pip install 'tradewire[mt5]' (docs/mt5.md)"
        ) from None


class Mt5Scheme:
    usage = "mt5:[?login=N&server=NAME&path=EXE]"

    def check(self, rest: str, spec: str) -> None:
        parse_mt5_spec(spec)

    async def open(self, rest: str, spec: str, create: bool) -> Mt5Broker:
        options = parse_mt5_spec(spec)
        mt5 = load_package()
        kwargs: dict[str, Any] = {"timeout": options.timeout_ms}
        if options.login is not None:
            password = os.environ.get(options.password_env)
            if not password:
                raise ConfigError(
                    f"--broker {spec!r}: set ${options.password_env} to the account's password"
                )
            kwargs.update(login=options.login, password=password)
        if options.server is not None:
            kwargs["server"] = options.server
        args = (options.path,) if options.path else ()
        broker = Mt5Broker(mt5, options)
        if not await broker._call(lambda: mt5.initialize(*args, **kwargs)):
            error = broker._failed("initialize")
            broker._thread.shutdown(wait=False)
            raise error
        return broker
