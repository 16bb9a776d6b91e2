"""The MQL5 network functions in Python (docs/mql5.md).

from tradewire.mql5 import *
use_context(NetworkContext.from_config(Path("tradewire.toml")))
socket = SocketCreate()
if SocketConnect(socket, "127.0.0.1", 8081, 1000): ...
"""

from tradewire.mql5.api import (
    INVALID_HANDLE,
    MAX_READ,
    SOCKET_DEFAULT,
    GetLastError,
    ResetLastError,
    SendFTP,
    SendMail,
    SendNotification,
    SocketClose,
    SocketConnect,
    SocketCreate,
    SocketIsConnected,
    SocketIsReadable,
    SocketIsWritable,
    SocketRead,
    SocketSend,
    SocketTimeouts,
    SocketTlsCertificate,
    SocketTlsHandshake,
    SocketTlsRead,
    SocketTlsReadAvailable,
    SocketTlsSend,
    TlsCertificate,
    WebRequest,
    WebResult,
    current_context,
    use_context,
)
from tradewire.mql5.context import NetworkContext
from tradewire.mql5.errors import *  # noqa: F403 -- the ERR_* constants
from tradewire.mql5.errors import error_code
from tradewire.mql5.strings import CharArrayToString, StringToCharArray

__all__ = [
    "INVALID_HANDLE",
    "MAX_READ",
    "SOCKET_DEFAULT",
    "CharArrayToString",
    "GetLastError",
    "NetworkContext",
    "ResetLastError",
    "SendFTP",
    "SendMail",
    "SendNotification",
    "SocketClose",
    "SocketConnect",
    "SocketCreate",
    "SocketIsConnected",
    "SocketIsReadable",
    "SocketIsWritable",
    "SocketRead",
    "SocketSend",
    "SocketTimeouts",
    "SocketTlsCertificate",
    "SocketTlsHandshake",
    "SocketTlsRead",
    "SocketTlsReadAvailable",
    "SocketTlsSend",
    "StringToCharArray",
    "TlsCertificate",
    "WebRequest",
    "WebResult",
    "current_context",
    "error_code",
    "use_context",
]
__all__ += [name for name in dir() if name.startswith("ERR_")]
