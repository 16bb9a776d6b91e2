// THE TERMINAL'S TRADING SIDE, FAKED for g++: the account, positions, pending orders, deal
// history, symbols and OrderSend that TradewireBridge.mq5, TradewireProvider.mq5 and
// Account.mqh call, with their MQL5 names, constants and selection semantics (PositionGetTicket
// selects, HistorySelect loads the history that HistoryDeal* read, ...).
//
// The account itself is not simulated here: every call asks a simulated terminal account over a
// local socket (tests/mql5/account_server.py: a paper account, whose rules are tradewire's paper
// broker's). A test harness, not a port: only what the EAs call is defined; nothing in it is
// tuned to what the EAs do. Request: one line "op<TAB>arg...". Answer: "OK <n>" then n records,
// each a line of key=value fields separated by tabs (\t, \n and \\ escaped).
#pragma once
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "terminal.hpp"

typedef unsigned int uint;
typedef long datetime;
typedef int ENUM_ORDER_TYPE;
typedef int ENUM_ORDER_TYPE_FILLING;
typedef int ENUM_TRADE_REQUEST_ACTIONS;
typedef int ENUM_ORDER_TYPE_TIME;

// values as in the MQL5 reference
constexpr int INIT_SUCCEEDED = 0, INIT_FAILED = 1, INIT_PARAMETERS_INCORRECT = 32767;
constexpr int TERMINAL_TRADE_ALLOWED = 8;
constexpr int ACCOUNT_LOGIN = 0, ACCOUNT_LEVERAGE = 35, ACCOUNT_MARGIN_MODE = 32;
constexpr int ACCOUNT_BALANCE = 37, ACCOUNT_EQUITY = 40, ACCOUNT_MARGIN = 42, ACCOUNT_CURRENCY = 36;
constexpr int ACCOUNT_MARGIN_MODE_RETAIL_NETTING = 0, ACCOUNT_MARGIN_MODE_RETAIL_HEDGING = 2;
constexpr int TRADE_ACTION_DEAL = 1, TRADE_ACTION_PENDING = 5, TRADE_ACTION_SLTP = 6,
              TRADE_ACTION_MODIFY = 7, TRADE_ACTION_REMOVE = 8;
constexpr int ORDER_TYPE_BUY = 0, ORDER_TYPE_SELL = 1, ORDER_TYPE_BUY_LIMIT = 2,
              ORDER_TYPE_SELL_LIMIT = 3, ORDER_TYPE_BUY_STOP = 4, ORDER_TYPE_SELL_STOP = 5,
              ORDER_TYPE_BUY_STOP_LIMIT = 6, ORDER_TYPE_SELL_STOP_LIMIT = 7;
constexpr int ORDER_FILLING_FOK = 0, ORDER_FILLING_IOC = 1, ORDER_FILLING_RETURN = 2;
constexpr int ORDER_TIME_GTC = 0, ORDER_TIME_SPECIFIED = 2;
constexpr int SYMBOL_FILLING_FOK = 1, SYMBOL_FILLING_IOC = 2;
constexpr int POSITION_TYPE_BUY = 0, POSITION_TYPE_SELL = 1;
constexpr int DEAL_TYPE_BUY = 0, DEAL_TYPE_SELL = 1;
constexpr int DEAL_ENTRY_IN = 0, DEAL_ENTRY_OUT = 1, DEAL_ENTRY_INOUT = 2, DEAL_ENTRY_OUT_BY = 3;
enum { POSITION_TICKET = 100, POSITION_TIME_MSC, POSITION_TYPE, POSITION_MAGIC, POSITION_IDENTIFIER,
       POSITION_VOLUME, POSITION_PRICE_OPEN, POSITION_SL, POSITION_TP, POSITION_SYMBOL, POSITION_COMMENT };
enum { ORDER_TYPE = 200, ORDER_TYPE_TIME, ORDER_TIME_EXPIRATION, ORDER_TIME_SETUP_MSC, ORDER_MAGIC,
       ORDER_VOLUME_CURRENT, ORDER_PRICE_OPEN, ORDER_PRICE_STOPLIMIT, ORDER_SL, ORDER_TP, ORDER_SYMBOL,
       ORDER_COMMENT };
enum { DEAL_TYPE = 300, DEAL_ORDER, DEAL_TIME_MSC, DEAL_POSITION_ID, DEAL_MAGIC, DEAL_VOLUME,
       DEAL_PRICE, DEAL_PROFIT, DEAL_SYMBOL, DEAL_COMMENT, DEAL_ENTRY, DEAL_COMMISSION, DEAL_SWAP,
       DEAL_FEE };
enum { SYMBOL_DIGITS = 400, SYMBOL_FILLING_MODE, SYMBOL_TRADE_CONTRACT_SIZE, SYMBOL_VOLUME_MIN,
       SYMBOL_VOLUME_STEP, SYMBOL_VOLUME_MAX, SYMBOL_CURRENCY_BASE, SYMBOL_CURRENCY_PROFIT };

struct MqlTick {
  datetime time = 0;
  double bid = 0, ask = 0, last = 0;
  ulong volume = 0;
  long time_msc = 0;
  uint flags = 0;
  double volume_real = 0;
};
struct MqlTradeRequest {
  int action = 0;
  ulong magic = 0, order = 0;
  string symbol;
  double volume = 0, price = 0, stoplimit = 0, sl = 0, tp = 0;
  ulong deviation = 0;
  int type = 0, type_filling = 0, type_time = 0;
  datetime expiration = 0;
  string comment;
  ulong position = 0, position_by = 0;
};
struct MqlTradeResult {
  uint retcode = 0;
  ulong deal = 0, order = 0;
  double volume = 0, price = 0, bid = 0, ask = 0;
  string comment;
  uint request_id = 0, retcode_external = 0;
};
struct MqlTradeTransaction {
  ulong deal = 0, order = 0;
  string symbol;
  int type = 0;
};
template <class T> void ZeroMemory(T& value) { value = T(); }

inline void EventSetMillisecondTimer(int) {}
inline void EventKillTimer() {}
inline long TerminalInfoInteger(int) { return 1; }
inline datetime TimeCurrent() { return (datetime)time(nullptr); }
inline datetime TimeGMT() { return (datetime)time(nullptr); }
inline datetime TimeTradeServer() { return (datetime)time(nullptr); }  // a server on UTC

// ---- the simulated account, over a local socket ----------------------------------------------

using Record = std::map<std::string, std::string>;

inline std::string tw_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\t') out += "\\t";
    else if (c == '\n') out += "\\n";
    else if (c == '\\') out += "\\\\";
    else out.push_back(c);
  }
  return out;
}
inline std::string tw_unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); i++) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      char n = text[++i];
      out.push_back(n == 't' ? '\t' : n == 'n' ? '\n' : n);
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

struct AccountLink {
  int fd = -1;
  std::string buffered;

  void connect_once() {
    if (fd >= 0) return;
    const char* where = getenv("TW_ACCOUNT");  // 127.0.0.1:PORT
    if (where == nullptr) { std::cerr << "TW_ACCOUNT is not set\n"; exit(3); }
    std::string text(where);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons((uint16_t)atoi(text.substr(text.find(':') + 1).c_str()));
    inet_pton(AF_INET, text.substr(0, text.find(':')).c_str(), &to.sin_addr);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (sockaddr*)&to, sizeof to) != 0) { std::cerr << "no account at " << text << "\n"; exit(3); }
  }
  std::string line() {
    while (buffered.find('\n') == std::string::npos) {
      char chunk[65536];
      ssize_t n = recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) { std::cerr << "the account went away\n"; exit(3); }
      buffered.append(chunk, (size_t)n);
    }
    size_t end = buffered.find('\n');
    std::string out = buffered.substr(0, end);
    buffered.erase(0, end + 1);
    return out;
  }
  std::vector<Record> call(const std::string& request) {
    connect_once();
    std::string out = request + "\n";
    if (send(fd, out.data(), out.size(), MSG_NOSIGNAL) != (ssize_t)out.size()) exit(3);
    std::string head = line();  // "OK <n>"
    int count = atoi(head.c_str() + 3);
    std::vector<Record> records;
    for (int i = 0; i < count; i++) {
      Record record;
      std::string text = line();
      size_t start = 0;
      while (start <= text.size()) {
        size_t tab = text.find('\t', start);
        std::string field = text.substr(start, tab == std::string::npos ? std::string::npos : tab - start);
        size_t eq = field.find('=');
        if (eq != std::string::npos) record[field.substr(0, eq)] = tw_unescape(field.substr(eq + 1));
        if (tab == std::string::npos) break;
        start = tab + 1;
      }
      records.push_back(record);
    }
    return records;
  }
};
static AccountLink g_account;

inline std::string tw_get(const Record& r, const char* key) {
  auto found = r.find(key);
  return found == r.end() ? std::string() : found->second;
}
inline long tw_long(const Record& r, const char* key) { return atol(tw_get(r, key).c_str()); }
inline double tw_double(const Record& r, const char* key) { return atof(tw_get(r, key).c_str()); }
inline string tw_string(const Record& r, const char* key) { return string(tw_get(r, key).c_str()); }

// The account's change counter: the driver calls OnTradeTransaction when it moves.
inline long TwShimAccountVersion() { return tw_long(g_account.call("version")[0], "version"); }

// ---- account -------------------------------------------------------------------------------

inline Record tw_account() { return g_account.call("account")[0]; }
inline long AccountInfoInteger(int property) {
  Record a = tw_account();
  if (property == ACCOUNT_LOGIN) return tw_long(a, "login");
  if (property == ACCOUNT_LEVERAGE) return tw_long(a, "leverage");
  return tw_get(a, "mode") == "hedging" ? ACCOUNT_MARGIN_MODE_RETAIL_HEDGING : ACCOUNT_MARGIN_MODE_RETAIL_NETTING;
}
inline double AccountInfoDouble(int property) {
  Record a = tw_account();
  return tw_double(a, property == ACCOUNT_BALANCE ? "balance" : property == ACCOUNT_EQUITY ? "equity" : "margin");
}
inline string AccountInfoString(int) { return tw_string(tw_account(), "currency"); }

// ---- positions: PositionGetTicket/PositionSelectByTicket select, PositionGet* read ---------

static std::vector<Record> g_positions;
static Record g_position;
inline int PositionsTotal() { g_positions = g_account.call("positions"); return (int)g_positions.size(); }
inline ulong PositionGetTicket(int index) {
  if (index < 0 || index >= (int)g_positions.size()) return 0;
  g_position = g_positions[index];
  return (ulong)tw_long(g_position, "id");
}
inline bool PositionSelectByTicket(ulong ticket) {
  for (const Record& p : g_account.call("positions"))
    if ((ulong)tw_long(p, "id") == ticket) { g_position = p; return true; }
  return false;
}
inline long PositionGetInteger(int property) {
  switch (property) {
    case POSITION_TICKET: case POSITION_IDENTIFIER: return tw_long(g_position, "id");
    case POSITION_TIME_MSC: return tw_long(g_position, "time");
    case POSITION_TYPE: return tw_get(g_position, "side") == "buy" ? POSITION_TYPE_BUY : POSITION_TYPE_SELL;
    case POSITION_MAGIC: return tw_long(g_position, "magic");
  }
  return 0;
}
inline double PositionGetDouble(int property) {
  switch (property) {
    case POSITION_VOLUME: return tw_double(g_position, "volume");
    case POSITION_PRICE_OPEN: return tw_double(g_position, "price");
    case POSITION_SL: return tw_double(g_position, "sl");
    case POSITION_TP: return tw_double(g_position, "tp");
  }
  return 0;
}
inline string PositionGetString(int property) {
  return tw_string(g_position, property == POSITION_SYMBOL ? "symbol" : "comment");
}

// ---- pending orders: OrderGetTicket/OrderSelect select, OrderGet* read ----------------------

static std::vector<Record> g_orders;
static Record g_order;
inline int OrdersTotal() { g_orders = g_account.call("orders"); return (int)g_orders.size(); }
inline ulong OrderGetTicket(int index) {
  if (index < 0 || index >= (int)g_orders.size()) return 0;
  g_order = g_orders[index];
  return (ulong)tw_long(g_order, "id");
}
inline bool OrderSelect(ulong ticket) {
  for (const Record& o : g_account.call("orders"))
    if ((ulong)tw_long(o, "id") == ticket) { g_order = o; return true; }
  return false;
}
inline long OrderGetInteger(int property) {
  switch (property) {
    case ORDER_TYPE: return tw_long(g_order, "type_code");
    case ORDER_TYPE_TIME: return tw_long(g_order, "expiration") > 0 ? ORDER_TIME_SPECIFIED : ORDER_TIME_GTC;
    case ORDER_TIME_EXPIRATION: return (tw_long(g_order, "expiration") + 999) / 1000;  // datetime
    case ORDER_TIME_SETUP_MSC: return tw_long(g_order, "time");
    case ORDER_MAGIC: return tw_long(g_order, "magic");
  }
  return 0;
}
inline double OrderGetDouble(int property) {
  switch (property) {
    case ORDER_VOLUME_CURRENT: return tw_double(g_order, "volume");
    case ORDER_PRICE_OPEN: return tw_double(g_order, "price");
    case ORDER_PRICE_STOPLIMIT: return tw_double(g_order, "stop_limit");
    case ORDER_SL: return tw_double(g_order, "sl");
    case ORDER_TP: return tw_double(g_order, "tp");
  }
  return 0;
}
inline string OrderGetString(int property) {
  return tw_string(g_order, property == ORDER_SYMBOL ? "symbol" : "comment");
}

// ---- deal history: HistorySelect* load it, HistoryDeal* read the loaded deals ---------------

static std::vector<Record> g_history;
inline bool HistorySelect(datetime, datetime) { g_history = g_account.call("history"); return true; }
inline bool HistorySelectByPosition(long position) {
  g_history = g_account.call("deals\t" + std::to_string(position));
  return true;
}
inline int HistoryDealsTotal() { return (int)g_history.size(); }
inline ulong HistoryDealGetTicket(int index) {
  return index >= 0 && index < (int)g_history.size() ? (ulong)tw_long(g_history[index], "ticket") : 0;
}
inline bool HistoryDealSelect(ulong ticket) {
  for (const Record& d : g_account.call("history"))
    if ((ulong)tw_long(d, "ticket") == ticket) { g_history.push_back(d); return true; }
  return false;
}
inline const Record* tw_deal(ulong ticket) {
  for (const Record& d : g_history)
    if ((ulong)tw_long(d, "ticket") == ticket) return &d;
  return nullptr;
}
inline long HistoryDealGetInteger(ulong ticket, int property) {
  const Record* d = tw_deal(ticket);
  if (d == nullptr) return 0;
  switch (property) {
    case DEAL_TYPE: return tw_get(*d, "side") == "buy" ? DEAL_TYPE_BUY : DEAL_TYPE_SELL;
    case DEAL_ORDER: return tw_long(*d, "order");
    case DEAL_TIME_MSC: return tw_long(*d, "time");
    case DEAL_POSITION_ID: return tw_long(*d, "position_id");
    case DEAL_MAGIC: return tw_long(*d, "magic");
    case DEAL_ENTRY: return tw_long(*d, "entry");
  }
  return 0;
}
inline double HistoryDealGetDouble(ulong ticket, int property) {
  const Record* d = tw_deal(ticket);
  if (d == nullptr) return 0;
  switch (property) {
    case DEAL_VOLUME: return tw_double(*d, "volume");
    case DEAL_PRICE: return tw_double(*d, "price");
    case DEAL_PROFIT: return tw_double(*d, "profit");
    case DEAL_COMMISSION: return tw_double(*d, "commission");
    case DEAL_SWAP: return tw_double(*d, "swap");
  }
  return 0;  // DEAL_FEE: none here
}
inline string HistoryDealGetString(ulong ticket, int property) {
  const Record* d = tw_deal(ticket);
  return d == nullptr ? string() : tw_string(*d, property == DEAL_SYMBOL ? "symbol" : "comment");
}

// ---- symbols -------------------------------------------------------------------------------

inline std::vector<Record> tw_symbol(const string& name) { return g_account.call("symbol\t" + utf8(name)); }
inline bool SymbolSelect(const string& name, bool) { return !tw_symbol(name).empty(); }
inline double SymbolInfoDouble(const string& name, int property) {
  auto found = tw_symbol(name);
  if (found.empty()) return 0;
  switch (property) {
    case SYMBOL_TRADE_CONTRACT_SIZE: return tw_double(found[0], "contract_size");
    case SYMBOL_VOLUME_MIN: return tw_double(found[0], "volume_min");
    case SYMBOL_VOLUME_STEP: return tw_double(found[0], "volume_step");
    case SYMBOL_VOLUME_MAX: return tw_double(found[0], "volume_max");
  }
  return 0;
}
inline long SymbolInfoInteger(const string& name, int property) {
  auto found = tw_symbol(name);
  if (found.empty()) return 0;
  return property == SYMBOL_DIGITS ? tw_long(found[0], "digits") : SYMBOL_FILLING_FOK;
}
inline string SymbolInfoString(const string& name, int property) {
  auto found = tw_symbol(name);
  if (found.empty()) return string();
  return tw_string(found[0], property == SYMBOL_CURRENCY_BASE ? "base" : "quote");
}
inline bool SymbolInfoTick(const string& name, MqlTick& tick) {
  auto found = tw_symbol(name);
  if (found.empty()) return false;
  tick.bid = tw_double(found[0], "bid");
  tick.ask = tw_double(found[0], "ask");
  tick.time_msc = tw_long(found[0], "time_ms");
  tick.time = tick.time_msc / 1000;
  return true;
}

// ---- OrderSend -----------------------------------------------------------------------------

inline std::string tw_num(double value) { char b[64]; snprintf(b, sizeof b, "%.10g", value); return b; }
inline bool OrderSend(const MqlTradeRequest& r, MqlTradeResult& result) {
  std::string line = "send";
  auto add = [&](const char* key, const std::string& value) { line += std::string("\t") + key + "=" + tw_escape(value); };
  add("action", std::to_string(r.action));
  add("symbol", utf8(r.symbol));
  add("volume", tw_num(r.volume));
  add("type", std::to_string(r.type));
  add("price", tw_num(r.price));
  add("stoplimit", tw_num(r.stoplimit));
  add("sl", tw_num(r.sl));
  add("tp", tw_num(r.tp));
  add("magic", std::to_string(r.magic));
  add("comment", utf8(r.comment));
  add("position", std::to_string(r.position));
  add("order", std::to_string(r.order));
  add("type_time", std::to_string(r.type_time));
  add("expiration", std::to_string(r.expiration));
  Record answer = g_account.call(line)[0];
  result.retcode = (uint)tw_long(answer, "retcode");
  result.deal = (ulong)tw_long(answer, "deal");
  result.order = (ulong)tw_long(answer, "order");
  result.volume = tw_double(answer, "volume");
  result.price = tw_double(answer, "price");
  result.comment = tw_string(answer, "comment");
  return result.retcode == 10009 || result.retcode == 10010;
}
