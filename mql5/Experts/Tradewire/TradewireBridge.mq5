//+------------------------------------------------------------------+
//| TradewireBridge.mq5: this terminal as a remote broker for a       |
//| tradewire follower (the `terminal:` broker, docs/mt5.md).          |
//|                                                                   |
//| It listens under its name through the hub's relay, answers        |
//| account/positions/symbol/quote requests, and executes orders.     |
//| It holds no trading decision: sizing, mapping, guards and         |
//| reconciliation stay in the follower. It reports and executes.     |
//|                                                                   |
//| Exactly once: every order carries a request id that goes into the |
//| order comment ("comment~rid"). Before sending, the EA looks for a |
//| deal or a position whose comment ends with it; if one exists, it  |
//| answers with that fill instead of trading again.                  |
//+------------------------------------------------------------------+
#property copyright "tradewire"
#property version   "1.00"
#property description "Executes a tradewire follower's orders on this account."
#property strict

#include <Tradewire/Client.mqh>
#include <Tradewire/Account.mqh>

input string HubHost     = "127.0.0.1";  // hub host(s): "h1" or "h1,h2:7401" (failover)
input uint   HubPort     = 7400;         // hub port
input bool   UseTls      = false;        // TLS (the hub's [tls] section)
input string User        = "";           // hub user of this terminal
input string Password    = "";           // hub password
input string Name        = "";           // relay name (empty: User)
input int    HistoryDays = 7;            // how far back to look for a request id
input ulong  Deviation   = 20;           // accepted slippage, points
input int    TimerMs     = 10;           // how often to check for requests

CTradewireClient Hub;
long             Version = 0;            // counts trade transactions (the "watch" op)
long             WatchRid[];             // long polls waiting for a change
long             WatchSince[];
ulong            WatchUntil[];

int OnInit(void)
  {
   if(User == "" || Password == "")
     {
      Alert("TradewireBridge: set User and Password in the inputs");
      return INIT_PARAMETERS_INCORRECT;
     }
   if(!TerminalInfoInteger(TERMINAL_TRADE_ALLOWED))
      Alert("TradewireBridge: algorithmic trading is off in the terminal (toolbar button 'Algo Trading')");
   Hub.Init(HubHost, HubPort, UseTls, User, Password, "TradewireBridge/1.0");
   EventSetMillisecondTimer(TimerMs);
   return INIT_SUCCEEDED;
  }

void OnDeinit(const int reason)
  {
   EventKillTimer();
   Hub.Close("expert removed");
  }

void OnTradeTransaction(const MqlTradeTransaction &trans, const MqlTradeRequest &request,
                        const MqlTradeResult &result)
  {
   Version++;
   AnswerWatches(false);
  }

void OnTimer(void)
  {
   string frames[];
   Hub.Poll(frames);
   if(Hub.JustLoggedIn())
     {
      string listen = "{\"t\":\"listen\",\"name\":" + JsonStr(RelayName()) + ",\"id\":\"listen\"}";
      Hub.Send(listen);
     }
   // one request at a time, in arrival order, as the hub relayed them
   for(int i = 0; i < ArraySize(frames); i++)
     {
      string type = JsonGetString(frames[i], "t");
      if(type == "relay_in")
         Handle(frames[i]);
      else if(type == "error" && JsonGetString(frames[i], "code") == "name_taken")
         Print("TradewireBridge: another session took the name ", RelayName());
     }
   AnswerWatches(true);
  }

string RelayName(void)
  {
   return Name == "" ? User : Name;
  }

void Reply(const long rid, const string body)
  {
   Hub.Send("{\"t\":\"reply\",\"rid\":" + JsonInt(rid) + ",\"body\":" + body + "}");
  }

void Handle(const string frame)
  {
   long rid = JsonGetLong(frame, "rid", -1);
   string body;
   if(!JsonGet(frame, "body", body))
      return;
   if(rid < 0)
      return;  // a one-way message: nothing to answer
   string op = JsonGetString(body, "op");
   if(op == "account")
      Reply(rid, "{\"ok\":true,\"account\":" + TwAccountJson() + "}");
   else if(op == "positions")
      Reply(rid, "{\"ok\":true,\"positions\":" + TwPositionsJson() + "}");
   else if(op == "symbol")
      Reply(rid, SymbolAnswer(JsonGetString(body, "symbol")));
   else if(op == "quote")
      Reply(rid, QuoteAnswer(JsonGetString(body, "symbol")));
   else if(op == "deals")
      Reply(rid, DealsAnswer(JsonGetString(body, "position_id")));
   else if(op == "order")
      Reply(rid, OrderAnswer(body));
   else if(op == "modify")
      Reply(rid, ModifyAnswer(body));
   else if(op == "orders")
      Reply(rid, "{\"ok\":true,\"orders\":" + TwOrdersJson() + "}");
   else if(op == "place")
      Reply(rid, PlaceAnswer(body));
   else if(op == "modify_order")
      Reply(rid, ModifyOrderAnswer(body));
   else if(op == "cancel")
      Reply(rid, CancelAnswer(body));
   else if(op == "watch")
      AddWatch(rid, JsonGetLong(body, "since", -1), JsonGetLong(body, "wait_ms", 20000));
   else
      Reply(rid, "{\"ok\":false,\"reason\":\"bad_request\",\"detail\":" + JsonStr("unknown op " + op) + "}");
  }

string SymbolAnswer(const string symbol)
  {
   if(!SymbolSelect(symbol, true))
      return "{\"ok\":true,\"spec\":null}";
   return "{\"ok\":true,\"spec\":{\"name\":" + JsonStr(symbol) +
          ",\"contract_size\":" + JsonNum(SymbolInfoDouble(symbol, SYMBOL_TRADE_CONTRACT_SIZE)) +
          ",\"digits\":" + JsonInt(SymbolInfoInteger(symbol, SYMBOL_DIGITS)) +
          ",\"volume_min\":" + JsonNum(SymbolInfoDouble(symbol, SYMBOL_VOLUME_MIN)) +
          ",\"volume_step\":" + JsonNum(SymbolInfoDouble(symbol, SYMBOL_VOLUME_STEP)) +
          ",\"volume_max\":" + JsonNum(SymbolInfoDouble(symbol, SYMBOL_VOLUME_MAX)) +
          ",\"base\":" + JsonStr(SymbolInfoString(symbol, SYMBOL_CURRENCY_BASE)) +
          ",\"quote\":" + JsonStr(SymbolInfoString(symbol, SYMBOL_CURRENCY_PROFIT)) + "}}";
  }

string QuoteAnswer(const string symbol)
  {
   MqlTick tick;
   if(!SymbolSelect(symbol, true) || !SymbolInfoTick(symbol, tick))
      return "{\"ok\":false,\"reason\":\"unknown_symbol\",\"detail\":" + JsonStr(symbol) + "}";
   return "{\"ok\":true,\"quote\":{\"symbol\":" + JsonStr(symbol) + ",\"bid\":" + JsonNum(tick.bid) +
          ",\"ask\":" + JsonNum(tick.ask) + ",\"time_ms\":" + JsonInt(tick.time_msc) + "}}";
  }

//--- the fill of a deal, as tradewire.model.Fill
string FillJson(const ulong deal)
  {
   bool buy = HistoryDealGetInteger(deal, DEAL_TYPE) == DEAL_TYPE_BUY;
   return "{\"order_id\":" + JsonStr(IntegerToString(HistoryDealGetInteger(deal, DEAL_ORDER))) +
          ",\"symbol\":" + JsonStr(HistoryDealGetString(deal, DEAL_SYMBOL)) +
          ",\"side\":" + JsonStr(buy ? "buy" : "sell") +
          ",\"volume\":" + JsonNum(HistoryDealGetDouble(deal, DEAL_VOLUME)) +
          ",\"price\":" + JsonNum(HistoryDealGetDouble(deal, DEAL_PRICE)) +
          ",\"time_ms\":" + JsonInt(HistoryDealGetInteger(deal, DEAL_TIME_MSC)) +
          ",\"position_id\":" + JsonStr(IntegerToString(HistoryDealGetInteger(deal, DEAL_POSITION_ID))) + "}";
  }

//--- every buy or sell deal of one position, oldest first, as tradewire.model.Deal: the
//--- follower's ledger of its own volume in a netting position (copy/holdings.py)
string DealsAnswer(const string position)
  {
   string out = "";
   if(HistorySelectByPosition(StringToInteger(position)))
      for(int i = 0; i < HistoryDealsTotal(); i++)
        {
         ulong deal = HistoryDealGetTicket(i);
         long type = HistoryDealGetInteger(deal, DEAL_TYPE);
         if(deal == 0 || (type != DEAL_TYPE_BUY && type != DEAL_TYPE_SELL))
            continue;  // balance, credit, commission: not a trade
         if(out != "")
            out += ",";
         out += "{\"ticket\":" + JsonStr(IntegerToString(deal)) +
                ",\"position_id\":" + JsonStr(position) +
                ",\"symbol\":" + JsonStr(HistoryDealGetString(deal, DEAL_SYMBOL)) +
                ",\"side\":" + JsonStr(type == DEAL_TYPE_BUY ? "buy" : "sell") +
                ",\"volume\":" + JsonNum(HistoryDealGetDouble(deal, DEAL_VOLUME)) +
                ",\"price\":" + JsonNum(HistoryDealGetDouble(deal, DEAL_PRICE)) +
                ",\"time\":" + JsonInt(HistoryDealGetInteger(deal, DEAL_TIME_MSC)) +
                ",\"magic\":" + JsonInt(HistoryDealGetInteger(deal, DEAL_MAGIC)) +
                ",\"profit\":" + JsonNum(HistoryDealGetDouble(deal, DEAL_PROFIT)) +
                ",\"comment\":" + JsonStr(HistoryDealGetString(deal, DEAL_COMMENT)) + "}";
        }
   return "{\"ok\":true,\"deals\":[" + out + "]}";
  }

bool EndsWith(const string text, const string tail)
  {
   int n = StringLen(text), k = StringLen(tail);
   return n >= k && StringSubstr(text, n - k) == tail;
  }

//--- a deal already made for this request id (0: none); positions are checked too
ulong DealFor(const string rid)
  {
   string tail = "~" + rid;
   datetime now = TimeCurrent();
   if(HistorySelect(now - HistoryDays * 86400, now + 86400))
     {
      int total = HistoryDealsTotal();
      for(int i = total - 1; i >= 0; i--)
        {
         ulong deal = HistoryDealGetTicket(i);
         if(deal != 0 && EndsWith(HistoryDealGetString(deal, DEAL_COMMENT), tail))
            return deal;
        }
     }
   // a position opened by it, should its deal be older than HistoryDays
   for(int i = PositionsTotal() - 1; i >= 0; i--)
     {
      ulong ticket = PositionGetTicket(i);
      if(ticket != 0 && EndsWith(PositionGetString(POSITION_COMMENT), tail) &&
         HistorySelectByPosition(PositionGetInteger(POSITION_IDENTIFIER)) && HistoryDealsTotal() > 0)
         return HistoryDealGetTicket(0);
     }
   return 0;
  }

//--- the filling mode the symbol allows (SYMBOL_FILLING_MODE is a bitmask)
ENUM_ORDER_TYPE_FILLING FillingFor(const string symbol)
  {
   long modes = SymbolInfoInteger(symbol, SYMBOL_FILLING_MODE);
   if((modes & SYMBOL_FILLING_FOK) != 0)
      return ORDER_FILLING_FOK;
   if((modes & SYMBOL_FILLING_IOC) != 0)
      return ORDER_FILLING_IOC;
   return ORDER_FILLING_RETURN;
  }

string Refusal(const uint retcode, const string comment)
  {
   string reason = "rejected";
   bool retry = false;
   switch(retcode)
     {
      case 10004: reason = "requote";               retry = true; break;
      case 10006: reason = "rejected";              break;
      case 10013: reason = "invalid_request";       break;
      case 10014: reason = "volume_range";          break;
      case 10015: reason = "invalid_price";         retry = true; break;
      case 10016: reason = "invalid_stops";         break;
      case 10018: reason = "market_closed";         retry = true; break;
      case 10019: reason = "no_money";              break;
      case 10022: reason = "invalid_expiration";    break;
      case 10027: reason = "algo_trading_disabled"; break;
      case 10030: reason = "filling_mode";          break;
      case 10031: reason = "no_connection";         retry = true; break;
      case 10036: reason = "position_not_found";    break;
     }
   return "{\"ok\":false,\"reason\":" + JsonStr(reason) + ",\"detail\":" + JsonStr(comment) +
          ",\"retryable\":" + JsonBool(retry) + ",\"retcode\":" + JsonInt(retcode) + "}";
  }

string OrderAnswer(const string body)
  {
   string rid = JsonGetString(body, "rid");
   string symbol = JsonGetString(body, "symbol");
   if(StringLen(rid) != 6)
      return "{\"ok\":false,\"reason\":\"bad_request\",\"detail\":\"rid must be 6 characters\"}";
   ulong done = DealFor(rid);
   if(done != 0)
      return "{\"ok\":true,\"fill\":" + FillJson(done) + ",\"duplicate\":true}";
   MqlTick tick;
   if(!SymbolSelect(symbol, true) || !SymbolInfoTick(symbol, tick))
      return Refusal(10013, "unknown symbol " + symbol);
   bool buy = JsonGetString(body, "side") == "buy";
   string comment = JsonGetString(body, "comment");
   MqlTradeRequest request;
   MqlTradeResult result;
   ZeroMemory(request);
   ZeroMemory(result);
   request.action = TRADE_ACTION_DEAL;
   request.symbol = symbol;
   request.volume = JsonGetDouble(body, "volume");
   request.type = buy ? ORDER_TYPE_BUY : ORDER_TYPE_SELL;
   request.price = buy ? tick.ask : tick.bid;
   request.deviation = Deviation;
   request.magic = (ulong)JsonGetLong(body, "magic");
   request.comment = StringSubstr(comment, 0, 31 - 7) + "~" + rid;
   request.type_filling = FillingFor(symbol);
   request.sl = JsonGetDouble(body, "sl");  // 0: none; set on the position it opens
   request.tp = JsonGetDouble(body, "tp");
   string position = JsonGetString(body, "position_id");
   if(position != "" && position != "null")  // null: open a position
      request.position = (ulong)StringToInteger(position);
   ResetLastError();
   if(!OrderSend(request, result) || (result.retcode != 10009 && result.retcode != 10010))
      return Refusal(result.retcode, result.comment);
   if(result.deal == 0 || !HistoryDealSelect(result.deal))
      return Refusal(result.retcode, "no deal for the order");
   return "{\"ok\":true,\"fill\":" + FillJson(result.deal) + ",\"retcode\":" + JsonInt(result.retcode) + "}";
  }

//--- a position's stop-loss and take-profit replaced (TRADE_ACTION_SLTP): the same levels
//--- twice change nothing, so no request id is needed
string ModifyAnswer(const string body)
  {
   ulong position = (ulong)StringToInteger(JsonGetString(body, "position_id"));
   if(position == 0 || !PositionSelectByTicket(position))
      return Refusal(10036, "no position " + JsonGetString(body, "position_id"));
   MqlTradeRequest request;
   MqlTradeResult result;
   ZeroMemory(request);
   ZeroMemory(result);
   request.action = TRADE_ACTION_SLTP;
   request.symbol = PositionGetString(POSITION_SYMBOL);
   request.position = position;
   request.sl = JsonGetDouble(body, "sl");
   request.tp = JsonGetDouble(body, "tp");
   ResetLastError();
   if(!OrderSend(request, result) || result.retcode != 10009)
      return Refusal(result.retcode, result.comment);
   return "{\"ok\":true,\"retcode\":" + JsonInt(result.retcode) + "}";
  }

//--- pending orders ---------------------------------------------------------------------

ENUM_ORDER_TYPE TypeOf(const string name)
  {
   if(name == "buy_limit")       return ORDER_TYPE_BUY_LIMIT;
   if(name == "sell_limit")      return ORDER_TYPE_SELL_LIMIT;
   if(name == "buy_stop")        return ORDER_TYPE_BUY_STOP;
   if(name == "sell_stop")       return ORDER_TYPE_SELL_STOP;
   if(name == "buy_stop_limit")  return ORDER_TYPE_BUY_STOP_LIMIT;
   return ORDER_TYPE_SELL_STOP_LIMIT;
  }

//--- the ticket of a pending order placed for this request id, or of the position it opened
ulong PlacedFor(const string rid)
  {
   string tail = "~" + rid;
   for(int i = OrdersTotal() - 1; i >= 0; i--)
     {
      ulong ticket = OrderGetTicket(i);
      if(ticket != 0 && EndsWith(OrderGetString(ORDER_COMMENT), tail))
         return ticket;
     }
   for(int i = PositionsTotal() - 1; i >= 0; i--)
     {
      ulong ticket = PositionGetTicket(i);
      if(ticket != 0 && EndsWith(PositionGetString(POSITION_COMMENT), tail))
         return (ulong)PositionGetInteger(POSITION_IDENTIFIER);
     }
   return 0;
  }

//--- MT5 expirations are whole seconds: rounded up, so an order never expires early
void SetExpiry(MqlTradeRequest &request, const long expiration_ms)
  {
   request.type_time = expiration_ms > 0 ? ORDER_TIME_SPECIFIED : ORDER_TIME_GTC;
   request.expiration = (datetime)((expiration_ms + 999) / 1000);
  }

string PlaceAnswer(const string body)
  {
   string rid = JsonGetString(body, "rid");
   if(StringLen(rid) != 6)
      return "{\"ok\":false,\"reason\":\"bad_request\",\"detail\":\"rid must be 6 characters\"}";
   ulong done = PlacedFor(rid);
   if(done != 0)
      return "{\"ok\":true,\"order_id\":" + JsonStr(IntegerToString(done)) + ",\"duplicate\":true}";
   string symbol = JsonGetString(body, "symbol");
   if(!SymbolSelect(symbol, true))
      return Refusal(10013, "unknown symbol " + symbol);
   MqlTradeRequest request;
   MqlTradeResult result;
   ZeroMemory(request);
   ZeroMemory(result);
   request.action = TRADE_ACTION_PENDING;
   request.symbol = symbol;
   request.volume = JsonGetDouble(body, "volume");
   request.type = TypeOf(JsonGetString(body, "type"));
   request.price = JsonGetDouble(body, "price");
   request.stoplimit = JsonGetDouble(body, "stop_limit");
   request.sl = JsonGetDouble(body, "sl");
   request.tp = JsonGetDouble(body, "tp");
   request.magic = (ulong)JsonGetLong(body, "magic");
   request.comment = StringSubstr(JsonGetString(body, "comment"), 0, 31 - 7) + "~" + rid;
   request.type_filling = FillingFor(symbol);
   SetExpiry(request, JsonGetLong(body, "expiration"));
   ResetLastError();
   if(!OrderSend(request, result) || result.retcode != 10009)
      return Refusal(result.retcode, result.comment);
   return "{\"ok\":true,\"order_id\":" + JsonStr(IntegerToString(result.order)) +
          ",\"retcode\":" + JsonInt(result.retcode) + "}";
  }

string NoOrder(const string body)
  {
   return "{\"ok\":false,\"reason\":\"order_not_found\",\"detail\":" +
          JsonStr("no pending order " + JsonGetString(body, "order_id")) + "}";
  }

string ModifyOrderAnswer(const string body)
  {
   ulong ticket = (ulong)StringToInteger(JsonGetString(body, "order_id"));
   if(ticket == 0 || !OrderSelect(ticket))
      return NoOrder(body);
   MqlTradeRequest request;
   MqlTradeResult result;
   ZeroMemory(request);
   ZeroMemory(result);
   request.action = TRADE_ACTION_MODIFY;
   request.order = ticket;
   request.price = JsonGetDouble(body, "price");
   request.stoplimit = JsonGetDouble(body, "stop_limit");
   request.sl = JsonGetDouble(body, "sl");
   request.tp = JsonGetDouble(body, "tp");
   SetExpiry(request, JsonGetLong(body, "expiration"));
   ResetLastError();
   if(!OrderSend(request, result) || result.retcode != 10009)
      return Refusal(result.retcode, result.comment);
   return "{\"ok\":true,\"retcode\":" + JsonInt(result.retcode) + "}";
  }

string CancelAnswer(const string body)
  {
   ulong ticket = (ulong)StringToInteger(JsonGetString(body, "order_id"));
   if(ticket == 0 || !OrderSelect(ticket))
      return NoOrder(body);
   MqlTradeRequest request;
   MqlTradeResult result;
   ZeroMemory(request);
   ZeroMemory(result);
   request.action = TRADE_ACTION_REMOVE;
   request.order = ticket;
   ResetLastError();
   if(!OrderSend(request, result) || result.retcode != 10009)
      return Refusal(result.retcode, result.comment);
   return "{\"ok\":true,\"retcode\":" + JsonInt(result.retcode) + "}";
  }

void AddWatch(const long rid, const long since, const long wait_ms)
  {
   if(since != Version)
     {
      Reply(rid, "{\"ok\":true,\"version\":" + JsonInt(Version) + "}");
      return;
     }
   int n = ArraySize(WatchRid);
   ArrayResize(WatchRid, n + 1);
   ArrayResize(WatchSince, n + 1);
   ArrayResize(WatchUntil, n + 1);
   WatchRid[n] = rid;
   WatchSince[n] = since;
   WatchUntil[n] = GetTickCount64() + (ulong)wait_ms;
  }

//--- answer long polls whose counter moved on (or, with expired_only, whose time is up)
void AnswerWatches(const bool expired_only)
  {
   ulong now = GetTickCount64();
   for(int i = ArraySize(WatchRid) - 1; i >= 0; i--)
     {
      bool due = expired_only ? now >= WatchUntil[i] : WatchSince[i] != Version;
      if(!due)
         continue;
      Reply(WatchRid[i], "{\"ok\":true,\"version\":" + JsonInt(Version) + "}");
      ArrayRemove(WatchRid, i, 1);
      ArrayRemove(WatchSince, i, 1);
      ArrayRemove(WatchUntil, i, 1);
     }
  }
//+------------------------------------------------------------------+
