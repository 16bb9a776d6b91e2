//+------------------------------------------------------------------+
//| Account.mqh: the account, its positions and its pending orders as |
//| PROTOCOL 1.2 JSON (the shapes tradewire.model.Account, Position   |
//| and PendingOrder read), and its deals as PROTOCOL 1.5 JSON (Deal). |
//+------------------------------------------------------------------+
#property strict

#include <Tradewire/Json.mqh>

string TwAccountJson(void)
  {
   bool hedging = AccountInfoInteger(ACCOUNT_MARGIN_MODE) == ACCOUNT_MARGIN_MODE_RETAIL_HEDGING;
   return "{\"login\":" + JsonStr(IntegerToString(AccountInfoInteger(ACCOUNT_LOGIN))) +
          ",\"currency\":" + JsonStr(AccountInfoString(ACCOUNT_CURRENCY)) +
          ",\"balance\":" + JsonNum(AccountInfoDouble(ACCOUNT_BALANCE), 2) +
          ",\"equity\":" + JsonNum(AccountInfoDouble(ACCOUNT_EQUITY), 2) +
          ",\"leverage\":" + JsonInt(AccountInfoInteger(ACCOUNT_LEVERAGE)) +
          ",\"mode\":" + JsonStr(hedging ? "hedging" : "netting") +
          ",\"margin\":" + JsonNum(AccountInfoDouble(ACCOUNT_MARGIN), 2) + "}";
  }

//--- the selected position (PositionGetTicket/PositionSelectByTicket first)
string TwPositionJson(const ulong ticket)
  {
   bool buy = PositionGetInteger(POSITION_TYPE) == POSITION_TYPE_BUY;
   return "{\"id\":" + JsonStr(IntegerToString((long)ticket)) +
          ",\"symbol\":" + JsonStr(PositionGetString(POSITION_SYMBOL)) +
          ",\"side\":" + JsonStr(buy ? "buy" : "sell") +
          ",\"volume\":" + JsonNum(PositionGetDouble(POSITION_VOLUME)) +
          ",\"price\":" + JsonNum(PositionGetDouble(POSITION_PRICE_OPEN)) +
          ",\"time\":" + JsonInt(PositionGetInteger(POSITION_TIME_MSC)) +
          ",\"sl\":" + JsonNum(PositionGetDouble(POSITION_SL)) +
          ",\"tp\":" + JsonNum(PositionGetDouble(POSITION_TP)) +
          ",\"magic\":" + JsonInt(PositionGetInteger(POSITION_MAGIC)) +
          ",\"comment\":" + JsonStr(PositionGetString(POSITION_COMMENT)) + "}";
  }

string TwPositionsJson(void)
  {
   string out = "[";
   int total = PositionsTotal();
   for(int i = 0; i < total; i++)
     {
      ulong ticket = PositionGetTicket(i);
      if(ticket == 0)
         continue;
      if(StringLen(out) > 1)
         out += ",";
      out += TwPositionJson(ticket);
     }
   return out + "]";
  }

//--- a pending order type's wire name ("" for a market order type)
string TwOrderTypeName(const long type)
  {
   switch((int)type)
     {
      case ORDER_TYPE_BUY_LIMIT:       return "buy_limit";
      case ORDER_TYPE_SELL_LIMIT:      return "sell_limit";
      case ORDER_TYPE_BUY_STOP:        return "buy_stop";
      case ORDER_TYPE_SELL_STOP:       return "sell_stop";
      case ORDER_TYPE_BUY_STOP_LIMIT:  return "buy_stop_limit";
      case ORDER_TYPE_SELL_STOP_LIMIT: return "sell_stop_limit";
     }
   return "";
  }

//--- every pending order, as tradewire.model.PendingOrder (expiration in Unix ms)
string TwOrdersJson(void)
  {
   string out = "";
   for(int i = 0; i < OrdersTotal(); i++)
     {
      ulong ticket = OrderGetTicket(i);
      string type = TwOrderTypeName(OrderGetInteger(ORDER_TYPE));
      if(ticket == 0 || type == "")
         continue;
      bool dated = OrderGetInteger(ORDER_TYPE_TIME) == ORDER_TIME_SPECIFIED;
      if(out != "")
         out += ",";
      out += "{\"id\":" + JsonStr(IntegerToString(ticket)) +
             ",\"symbol\":" + JsonStr(OrderGetString(ORDER_SYMBOL)) +
             ",\"type\":" + JsonStr(type) +
             ",\"volume\":" + JsonNum(OrderGetDouble(ORDER_VOLUME_CURRENT)) +
             ",\"price\":" + JsonNum(OrderGetDouble(ORDER_PRICE_OPEN)) +
             ",\"time\":" + JsonInt(OrderGetInteger(ORDER_TIME_SETUP_MSC)) +
             ",\"stop_limit\":" + JsonNum(OrderGetDouble(ORDER_PRICE_STOPLIMIT)) +
             ",\"sl\":" + JsonNum(OrderGetDouble(ORDER_SL)) +
             ",\"tp\":" + JsonNum(OrderGetDouble(ORDER_TP)) +
             ",\"expiration\":" + JsonInt(dated ? OrderGetInteger(ORDER_TIME_EXPIRATION) * 1000 : 0) +
             ",\"magic\":" + JsonInt(OrderGetInteger(ORDER_MAGIC)) +
             ",\"comment\":" + JsonStr(OrderGetString(ORDER_COMMENT)) + "}";
     }
   return "[" + out + "]";
  }

//--- Unix milliseconds, UTC
long TwNowMs(void)
  {
   return (long)TimeGMT() * 1000;
  }

//--- the trade server's clock less UTC, in ms, to the half hour (deal times are the server's)
long TwServerOffsetMs(void)
  {
   long offset = (long)TimeTradeServer() - (long)TimeGMT();
   long half_hours = (offset >= 0 ? offset + 900 : offset - 900) / 1800;
   return half_hours * 1800 * 1000;
  }

string TwDealEntry(const long entry)
  {
   if(entry == DEAL_ENTRY_OUT)
      return "out";
   if(entry == DEAL_ENTRY_INOUT)
      return "inout";
   if(entry == DEAL_ENTRY_OUT_BY)
      return "out_by";
   return "in";
  }

//--- PROTOCOL 1.5: the buy and sell deals with a ticket above `after` from the server time
//--- `from` on (at most `most`), as JSON objects joined by commas; `newest` gets the highest
//--- ticket among them (deal tickets grow)
string TwDealsJson(const ulong after, const datetime from, const int most, ulong &newest)
  {
   string out = "";
   newest = after;
   if(!HistorySelect(from, TimeTradeServer() + 86400))
      return out;
   long offset = TwServerOffsetMs();
   int total = HistoryDealsTotal();
   int count = 0;
   for(int i = 0; i < total && count < most; i++)
     {
      ulong ticket = HistoryDealGetTicket(i);
      long type = HistoryDealGetInteger(ticket, DEAL_TYPE);
      if(ticket <= after || (type != DEAL_TYPE_BUY && type != DEAL_TYPE_SELL))
         continue;
      if(ticket > newest)
         newest = ticket;
      double commission = HistoryDealGetDouble(ticket, DEAL_COMMISSION) +
                          HistoryDealGetDouble(ticket, DEAL_FEE);
      if(out != "")
         out += ",";
      out += "{\"ticket\":" + JsonStr(IntegerToString((long)ticket)) +
             ",\"position_id\":" + JsonStr(IntegerToString(HistoryDealGetInteger(ticket, DEAL_POSITION_ID))) +
             ",\"symbol\":" + JsonStr(HistoryDealGetString(ticket, DEAL_SYMBOL)) +
             ",\"side\":" + JsonStr(type == DEAL_TYPE_BUY ? "buy" : "sell") +
             ",\"volume\":" + JsonNum(HistoryDealGetDouble(ticket, DEAL_VOLUME)) +
             ",\"price\":" + JsonNum(HistoryDealGetDouble(ticket, DEAL_PRICE)) +
             ",\"time\":" + JsonInt(HistoryDealGetInteger(ticket, DEAL_TIME_MSC) - offset) +
             ",\"magic\":" + JsonInt(HistoryDealGetInteger(ticket, DEAL_MAGIC)) +
             ",\"entry\":" + JsonStr(TwDealEntry(HistoryDealGetInteger(ticket, DEAL_ENTRY))) +
             ",\"profit\":" + JsonNum(HistoryDealGetDouble(ticket, DEAL_PROFIT), 2) +
             ",\"commission\":" + JsonNum(commission, 2) +
             ",\"swap\":" + JsonNum(HistoryDealGetDouble(ticket, DEAL_SWAP), 2) + "}";
      count++;
     }
   return out;
  }
//+------------------------------------------------------------------+
