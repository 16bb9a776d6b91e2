//+------------------------------------------------------------------+
//| Account.mqh: the account, its positions and its pending orders as |
//| PROTOCOL 1.2 JSON (the shapes tradewire.model.Account, Position   |
//| and PendingOrder read).                                           |
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
//+------------------------------------------------------------------+
