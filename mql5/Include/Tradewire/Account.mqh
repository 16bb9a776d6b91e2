//+------------------------------------------------------------------+
//| Account.mqh: the account and its positions as PROTOCOL 1.1 JSON   |
//| (the same shape tradewire.model.Account / Position read).         |
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

//--- Unix milliseconds, UTC
long TwNowMs(void)
  {
   return (long)TimeGMT() * 1000;
  }
//+------------------------------------------------------------------+
