//+------------------------------------------------------------------+
//| Client.mqh: tradewire's native protocol over the terminal's own   |
//| Socket* functions (no DLL). docs/mt5.md, docs/protocol.md.        |
//|                                                                   |
//| - newline framing over a receive buffer that survives partial     |
//|   reads (SocketIsReadable + SocketRead, or SocketTlsReadAvailable)|
//| - hello/welcome, pong to the hub's pings, a dead link noticed     |
//|   after three silent heartbeats                                   |
//| - reconnect with exponential backoff and jitter                   |
//| - frames that need an ack are kept and sent again after a         |
//|   reconnect until the hub acks them                               |
//| - a clear Print/Alert for error 4014 and every socket error       |
//+------------------------------------------------------------------+
#property strict

#include <Tradewire/Json.mqh>

#define TW_MAX_LINE      1048576   // a longer line without "\n" means a broken stream
#define TW_READ_CHUNK    65536
#define TW_MAX_PENDING   256

//--- index of the first "\n" in bytes, or -1
int TwFindNewline(const uchar &bytes[])
  {
   int n = ArraySize(bytes);
   for(int i = 0; i < n; i++)
      if(bytes[i] == 10)
         return i;
   return -1;
  }

class CTradewireClient
  {
private:
   int               m_socket;
   string            m_host;             // the hub tried now
   uint              m_port;
   string            m_hosts[];          // every hub to try, in turn (docs/scaling.md)
   uint              m_ports[];
   int               m_current;
   bool              m_tls;
   string            m_user;
   string            m_password;
   string            m_agent;
   uchar             m_inbox[];          // received bytes not yet ended by "\n"
   string            m_pending_slot[];   // frames kept until acked: slot, id, line
   string            m_pending_id[];
   string            m_pending_line[];
   bool              m_logged_in;
   bool              m_just_logged_in;
   bool              m_given_up;         // wrong password: no more tries
   ulong             m_last_rx_ms;
   ulong             m_next_try_ms;
   uint              m_backoff_ms;
   double            m_heartbeat_s;
   long              m_next_id;

   void              Fail(const string what);
   void              AddHub(string item, const uint port);
   bool              Connect(void);
   bool              ReadAvailable(void);
   bool              WriteAll(const string line);
   void              Control(const string line, string &frames[]);
   void              Forget(const string id);
   void              ResendPending(void);

public:
                     CTradewireClient(void);
                    ~CTradewireClient(void);
   void              Init(const string host, const uint port, const bool tls, const string user,
                          const string password, const string agent);
   bool              Poll(string &frames[]);
   bool              LoggedIn(void) const { return m_logged_in; }
   bool              JustLoggedIn(void);
   bool              GivenUp(void) const { return m_given_up; }
   string            NextId(const string prefix);
   bool              Send(const string line);
   void              SendUntilAcked(const string slot, const string id, const string line);
   int               PendingCount(void) const { return ArraySize(m_pending_id); }
   void              Close(const string reason);
  };

CTradewireClient::CTradewireClient(void)
  {
   m_socket = INVALID_HANDLE;
   m_current = 0;
   m_logged_in = false;
   m_just_logged_in = false;
   m_given_up = false;
   m_backoff_ms = 0;
   m_next_try_ms = 0;
   m_heartbeat_s = 15.0;
   m_next_id = 1;
  }

CTradewireClient::~CTradewireClient(void)
  {
   Close("expert removed");
  }

//--- hosts: one hub, or several sharing their channels, comma-separated, each "host" (on port)
//--- or "host:port"; after a failure the client moves to the next (failover)
void CTradewireClient::Init(const string hosts, const uint port, const bool tls, const string user,
                            const string password, const string agent)
  {
   ArrayResize(m_hosts, 0);
   ArrayResize(m_ports, 0);
   string rest = hosts;
   while(StringLen(rest) > 0)
     {
      int comma = StringFind(rest, ",");
      AddHub(comma < 0 ? rest : StringSubstr(rest, 0, comma), port);
      rest = comma < 0 ? "" : StringSubstr(rest, comma + 1);
     }
   if(ArraySize(m_hosts) == 0)
      AddHub("127.0.0.1", port);
   m_current = 0;
   m_host = m_hosts[0];
   m_port = m_ports[0];
   m_tls = tls;
   m_user = user;
   m_password = password;
   m_agent = agent;
   MathSrand((uint)GetTickCount64());
  }

void CTradewireClient::AddHub(string item, const uint port)
  {
   StringTrimLeft(item);
   StringTrimRight(item);
   if(StringLen(item) == 0)
      return;
   int n = ArraySize(m_hosts);
   ArrayResize(m_hosts, n + 1);
   ArrayResize(m_ports, n + 1);
   int colon = StringFind(item, ":");
   m_hosts[n] = colon < 0 ? item : StringSubstr(item, 0, colon);
   m_ports[n] = colon < 0 ? port : (uint)StringToInteger(StringSubstr(item, colon + 1));
  }

//--- say why the link failed, then schedule the next try (on the next hub, if there are
//--- several) with backoff and jitter
void CTradewireClient::Fail(const string what)
  {
   int code = GetLastError();
   string hint = "";
   if(code == 4014)
      hint = StringFormat(" - add %s to Tools > Options > Expert Advisors > "
                          "'Allow WebRequest for listed URL' and restart the expert", m_host);
   else if(code == 5272)
      hint = StringFormat(" - is the hub running on %s:%u, and is %s in the allowed URL list?",
                          m_host, m_port, m_host);
   else if(code == 5274)
      hint = " - TLS handshake failed: does the hub's certificate match the host name?";
   else if(code == 5273)
      hint = " - the connection dropped";
   PrintFormat("tradewire: %s (error %d)%s", what, code, hint);
   if(code == 4014)
      Alert("tradewire: ", m_host, " is not in the terminal's allowed URL list (see the Experts log)");
   if(m_socket != INVALID_HANDLE)
      SocketClose(m_socket);
   m_socket = INVALID_HANDLE;
   m_logged_in = false;
   ArrayResize(m_inbox, 0);
   if(ArraySize(m_hosts) > 1)
     {
      m_current = (m_current + 1) % ArraySize(m_hosts);
      m_host = m_hosts[m_current];
      m_port = m_ports[m_current];
     }
   m_backoff_ms = (m_backoff_ms == 0) ? 100 : (uint)MathMin(m_backoff_ms * 2, 10000);
   m_next_try_ms = GetTickCount64() + m_backoff_ms + (ulong)(MathRand() % (m_backoff_ms / 2 + 1));
   ResetLastError();
  }

bool CTradewireClient::Connect(void)
  {
   ResetLastError();
   m_socket = SocketCreate();
   if(m_socket == INVALID_HANDLE)
     {
      Fail("SocketCreate failed");
      return false;
     }
   if(!SocketConnect(m_socket, m_host, m_port, 5000))
     {
      Fail(StringFormat("cannot connect to %s:%u", m_host, m_port));
      return false;
     }
   if(m_tls && !SocketTlsHandshake(m_socket, m_host))
     {
      Fail(StringFormat("TLS handshake with %s failed", m_host));
      return false;
     }
   m_last_rx_ms = GetTickCount64();
   string hello = "{\"t\":\"hello\",\"v\":1,\"user\":" + JsonStr(m_user) +
                  ",\"password\":" + JsonStr(m_password) + ",\"agent\":" + JsonStr(m_agent) +
                  ",\"id\":\"login\"}";
   return WriteAll(hello);
  }

//--- append what the socket has now to m_inbox; false when the link is broken
bool CTradewireClient::ReadAvailable(void)
  {
   uchar chunk[];
   while(true)
     {
      ArrayResize(chunk, 0);
      int got = 0;
      if(m_tls)
         got = SocketTlsReadAvailable(m_socket, chunk, TW_READ_CHUNK);
      else
        {
         uint readable = SocketIsReadable(m_socket);
         if(readable == 0)
            return SocketIsConnected(m_socket);
         got = SocketRead(m_socket, chunk, (uint)MathMin(readable, TW_READ_CHUNK), 100);
        }
      if(got < 0)
         return false;
      if(got == 0)
         return SocketIsConnected(m_socket);
      int had = ArraySize(m_inbox);
      ArrayResize(m_inbox, had + got);
      ArrayCopy(m_inbox, chunk, had, 0, got);
      m_last_rx_ms = GetTickCount64();
      if(ArraySize(m_inbox) > TW_MAX_LINE)
        {
         Print("tradewire: a line from the hub is too long; reconnecting");
         return false;
        }
     }
   return true;
  }

bool CTradewireClient::WriteAll(const string line)
  {
   uchar bytes[];
   int size = StringToCharArray(line + "\n", bytes, 0, WHOLE_ARRAY, CP_UTF8) - 1;  // no NUL
   int sent = 0;
   while(sent < size)
     {
      uchar rest[];
      ArrayCopy(rest, bytes, 0, sent, size - sent);
      int n = m_tls ? SocketTlsSend(m_socket, rest, size - sent) : SocketSend(m_socket, rest, size - sent);
      if(n <= 0)
        {
         Fail("sending to the hub failed");
         return false;
        }
      sent += n;
     }
   return true;
  }

//--- keep the link up; whole frames that are not the client's own business go to `frames`
bool CTradewireClient::Poll(string &frames[])
  {
   ArrayResize(frames, 0);
   if(m_given_up)
      return false;
   if(m_socket == INVALID_HANDLE)
     {
      if(GetTickCount64() < m_next_try_ms)
         return false;
      if(!Connect())
         return false;
     }
   // The lines that came with a close are read before the close is acted on: a refused
   // login (auth_failed, banned) or a bye arrives just before the hub closes the link.
   bool open = ReadAvailable();
   // whole lines only: a partial line stays in m_inbox for the next call
   while(true)
     {
      int end = TwFindNewline(m_inbox);
      if(end < 0)
         break;
      string line = CharArrayToString(m_inbox, 0, end, CP_UTF8);
      ArrayRemove(m_inbox, 0, end + 1);
      StringTrimRight(line);
      if(StringLen(line) > 0)
         Control(line, frames);
      if(m_socket == INVALID_HANDLE)
         return false;
     }
   if(!open)
     {
      Fail("the hub closed the connection");
      return false;
     }
   if(GetTickCount64() - m_last_rx_ms > (ulong)(3 * m_heartbeat_s * 1000))
     {
      Fail("no heartbeat from the hub for three periods");
      return false;
     }
   return m_logged_in;
  }

void CTradewireClient::Control(const string line, string &frames[])
  {
   string type = JsonGetString(line, "t");
   if(type == "ping")
     {
      string id;
      // the id echoed as sent (a number stays a number)
      WriteAll(JsonGetRaw(line, "id", id) ? "{\"t\":\"pong\",\"re\":" + id + "}" : "{\"t\":\"pong\"}");
      return;
     }
   if(type == "pong")
      return;
   if(type == "welcome")
     {
      m_logged_in = true;
      m_just_logged_in = true;
      m_backoff_ms = 0;
      m_heartbeat_s = JsonGetDouble(line, "heartbeat_s", 15.0);
      PrintFormat("tradewire: logged in to %s:%u as %s", m_host, m_port, m_user);
      ResendPending();
      return;
     }
   if(type == "ack")
     {
      Forget(JsonGetString(line, "re"));
      int n = ArraySize(frames);
      ArrayResize(frames, n + 1);
      frames[n] = line;
      return;
     }
   if(type == "error")
     {
      string code = JsonGetString(line, "code");
      PrintFormat("tradewire: the hub says %s: %s", code, JsonGetString(line, "msg"));
      if(code == "auth_failed" || code == "unsupported_version")
        {
         m_given_up = true;
         Alert("tradewire: the hub refused the login (", code, "): check User and Password");
         Close("login refused");
         return;
        }
      if(code == "banned")
        {
         long wait_s = JsonGetLong(line, "retry_after_s", 60);
         Fail("banned by the hub");
         m_next_try_ms = GetTickCount64() + (ulong)MathMin(wait_s, 30) * 1000;
         return;
        }
      Forget(JsonGetString(line, "re"));  // a refused frame is not sent again
     }
   if(type == "bye")
     {
      Fail("the hub said bye: " + JsonGetString(line, "reason"));
      return;
     }
   int n = ArraySize(frames);
   ArrayResize(frames, n + 1);
   frames[n] = line;
  }

bool CTradewireClient::JustLoggedIn(void)
  {
   bool was = m_just_logged_in;
   m_just_logged_in = false;
   return was;
  }

string CTradewireClient::NextId(const string prefix)
  {
   return prefix + IntegerToString(m_next_id++);
  }

bool CTradewireClient::Send(const string line)
  {
   if(!m_logged_in)
      return false;
   return WriteAll(line);
  }

//--- send `line` (whose "id" is `id`) until acked; a newer frame in the same slot replaces it
void CTradewireClient::SendUntilAcked(const string slot, const string id, const string line)
  {
   int n = ArraySize(m_pending_id);
   int at = -1;
   if(slot != "")
      for(int i = 0; i < n; i++)
         if(m_pending_slot[i] == slot)
            at = i;
   if(at < 0)
     {
      if(n >= TW_MAX_PENDING)
        {
         Print("tradewire: too many frames wait for an ack; the oldest is dropped");
         Forget(m_pending_id[0]);
         n--;
        }
      ArrayResize(m_pending_slot, n + 1);
      ArrayResize(m_pending_id, n + 1);
      ArrayResize(m_pending_line, n + 1);
      at = n;
     }
   m_pending_slot[at] = slot;
   m_pending_id[at] = id;
   m_pending_line[at] = line;
   if(m_logged_in)
      WriteAll(line);
  }

void CTradewireClient::Forget(const string id)
  {
   int n = ArraySize(m_pending_id);
   for(int i = 0; i < n; i++)
      if(m_pending_id[i] == id)
        {
         ArrayRemove(m_pending_slot, i, 1);
         ArrayRemove(m_pending_id, i, 1);
         ArrayRemove(m_pending_line, i, 1);
         return;
        }
  }

void CTradewireClient::ResendPending(void)
  {
   int n = ArraySize(m_pending_line);
   for(int i = 0; i < n && m_socket != INVALID_HANDLE; i++)
      WriteAll(m_pending_line[i]);
  }

void CTradewireClient::Close(const string reason)
  {
   if(m_socket == INVALID_HANDLE)
      return;
   if(m_logged_in)
      WriteAll("{\"t\":\"bye\",\"reason\":" + JsonStr(reason) + "}");
   SocketClose(m_socket);
   m_socket = INVALID_HANDLE;
   m_logged_in = false;
  }
//+------------------------------------------------------------------+
