"""tradewire: connects trading terminals to each other and to the outside world over sockets."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tradewire")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
