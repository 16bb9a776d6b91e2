//+------------------------------------------------------------------+
//| TradewireProvider.mq5: publish this account's positions, with     |
//| their stops, and its pending orders to a tradewire channel        |
//| (docs/mt5.md). Holds no trading decision.                         |
//|                                                                   |
//| A trade transaction (a deal, an order added, updated or deleted,  |
//| a position's SL/TP changed) marks the state dirty; a millisecond  |
//| timer sends the full state (PROTOCOL 1.2) once, and again every   |
//| RefreshSeconds as a keepalive. A state not yet acked is sent      |
//| again after a reconnect; a newer one replaces it.                 |
//|                                                                   |
//| The deals made since the EA started (PROTOCOL 1.5) are read       |
//| before each state and sent once that state is acked, so the hub   |
//| sets them beside the moment that shows them (docs/statistics.md). |
//+------------------------------------------------------------------+
#property copyright "tradewire"
#property version   "1.50"
#property description "Publishes the account's positions and pending orders to a tradewire hub channel."
#property strict

#include <Tradewire/Client.mqh>
#include <Tradewire/Account.mqh>

input string HubHost        = "127.0.0.1";  // hub host(s): "h1" or "h1,h2:7401" (failover)
input uint   HubPort        = 7400;         // hub port
input bool   UseTls         = false;        // TLS (the hub's [tls] section)
input string User           = "";           // hub user (role provider)
input string Password       = "";           // hub password
input string Channel        = "alpha";      // channel granted to User
input int    RefreshSeconds = 30;           // publish at least this often
input int    TimerMs        = 20;           // how often to check for work

#define TW_DEALS_PER_READ 100  // a deals frame stays far below the hub's 64 KB

CTradewireClient Hub;
bool             Dirty = true;
ulong            LastSentMs = 0;
ulong            LastDeal = 0;       // the newest deal ticket read (tickets grow)
datetime         DealsFrom = 0;      // server time the deal history is read from
string           DealsWaiting = "";  // deals the last state shows, sent once it is acked
string           DealsAfter = "";    // that state's id

int OnInit(void)
  {
   if(User == "" || Password == "")
     {
      Alert("TradewireProvider: set User and Password in the inputs");
      return INIT_PARAMETERS_INCORRECT;
     }
   Hub.Init(HubHost, HubPort, UseTls, User, Password, "TradewireProvider/1.5");
   DealsFrom = TimeTradeServer() - 60;
   TwDealsJson(0, DealsFrom, INT_MAX, LastDeal);  // the history before the EA is not sent
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
   Dirty = true;
  }

void OnTimer(void)
  {
   string frames[];
   Hub.Poll(frames);
   if(Hub.JustLoggedIn())
      Dirty = true;  // whatever changed while away
   for(int i = 0; i < ArraySize(frames); i++)
     {
      if(JsonGetString(frames[i], "t") == "ack" && DealsWaiting != "" &&
         JsonGetString(frames[i], "re") == DealsAfter)
         SendDeals();
      if(JsonGetString(frames[i], "t") == "error")
        {
         string code = JsonGetString(frames[i], "code");
         if(code == "forbidden" || code == "channel_busy")
            Alert("TradewireProvider: ", code, " on channel ", Channel, ": ",
                  JsonGetString(frames[i], "msg"));
        }
     }
   if(!Hub.LoggedIn())
      return;
   if(Dirty || GetTickCount64() - LastSentMs >= (ulong)RefreshSeconds * 1000)
      Publish();
  }

void Publish(void)
  {
   ulong newest = LastDeal;
   string deals = "";
   if(StringLen(DealsWaiting) < 20000)  // before the account is read: the state shows them
      deals = TwDealsJson(LastDeal, DealsFrom, TW_DEALS_PER_READ, newest);
   string id = Hub.NextId("s");
   string state = "{\"t\":\"state\",\"ch\":" + JsonStr(Channel) + ",\"ts\":" + JsonInt(TwNowMs()) +
                  ",\"account\":" + TwAccountJson() + ",\"positions\":" + TwPositionsJson() +
                  ",\"orders\":" + TwOrdersJson() + ",\"id\":" + JsonStr(id) + "}";
   Hub.SendUntilAcked("state", id, state);
   Dirty = false;
   LastSentMs = GetTickCount64();
   if(deals != "")
     {
      DealsWaiting = DealsWaiting == "" ? deals : DealsWaiting + "," + deals;
      LastDeal = newest;
      DealsFrom = TimeTradeServer() - 3600;
     }
   if(DealsWaiting != "")
      DealsAfter = id;  // the newest state shows every deal waiting
  }

void SendDeals(void)
  {
   string id = Hub.NextId("d");
   Hub.SendUntilAcked("", id, "{\"t\":\"deals\",\"ch\":" + JsonStr(Channel) + ",\"deals\":[" +
                      DealsWaiting + "],\"id\":" + JsonStr(id) + "}");
   DealsWaiting = "";
   DealsAfter = "";
  }
//+------------------------------------------------------------------+
