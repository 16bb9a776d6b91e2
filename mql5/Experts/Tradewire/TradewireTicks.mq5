//+------------------------------------------------------------------+
//| TradewireTicks.mq5: stream the ticks of chosen symbols to a       |
//| tradewire hub as native `ticks` frames (docs/mt5.md).             |
//|                                                                   |
//| Every BatchMs the new ticks of each symbol (CopyTicks) go out in  |
//| one batch; a batch is kept and sent again after a reconnect until |
//| the hub acks it (stored durably); the hub stores a batch resent   |
//| under the same id once. With too many batches unacked, reading    |
//| pauses: CopyTicks catches up from where it stopped.               |
//+------------------------------------------------------------------+
#property copyright "tradewire"
#property version   "1.00"
#property description "Streams ticks to a tradewire hub, each batch kept until stored."
#property strict

#include <Tradewire/Client.mqh>

input string HubHost    = "127.0.0.1";      // hub host(s): "h1" or "h1,h2:7401" (failover)
input uint   HubPort    = 7400;             // hub port
input bool   UseTls     = false;            // TLS (the hub's [tls] section)
input string User       = "";               // hub user (role provider)
input string Password   = "";               // hub password
input string Symbols    = "EURUSD,GBPUSD";  // comma-separated
input int    BatchMs    = 200;              // how often a batch goes out
input int    MaxRows    = 1000;             // rows per batch at most
input int    MaxUnacked = 32;               // batches in flight before reading pauses

CTradewireClient Hub;
string           Names[];
long             FromMs[];                  // next CopyTicks start per symbol
int              SeenAtFrom[];              // ticks at FromMs already sent
string           BatchPrefix;

int OnInit(void)
  {
   if(User == "" || Password == "")
     {
      Alert("TradewireTicks: set User and Password in the inputs");
      return INIT_PARAMETERS_INCORRECT;
     }
   int n = StringSplit(Symbols, ',', Names);
   if(n <= 0)
      return INIT_PARAMETERS_INCORRECT;
   ArrayResize(FromMs, n);
   ArrayResize(SeenAtFrom, n);
   for(int i = 0; i < n; i++)
     {
      StringTrimLeft(Names[i]);
      StringTrimRight(Names[i]);
      if(!SymbolSelect(Names[i], true))
         PrintFormat("TradewireTicks: %s is not offered by this broker", Names[i]);
      FromMs[i] = (long)TimeCurrent() * 1000;
      SeenAtFrom[i] = 0;
     }
   // unique per run: the hub deduplicates batches by (user, id)
   BatchPrefix = "k" + IntegerToString(AccountInfoInteger(ACCOUNT_LOGIN)) + "-" +
                 IntegerToString((long)TimeGMT()) + "-";
   Hub.Init(HubHost, HubPort, UseTls, User, Password, "TradewireTicks/1.0");
   EventSetMillisecondTimer(BatchMs);
   return INIT_SUCCEEDED;
  }

void OnDeinit(const int reason)
  {
   EventKillTimer();
   Hub.Close("expert removed");
  }

void OnTimer(void)
  {
   string frames[];
   Hub.Poll(frames);
   for(int i = 0; i < ArraySize(frames); i++)
      if(JsonGetString(frames[i], "t") == "error" && JsonGetString(frames[i], "code") == "invalid_ticks")
         Print("TradewireTicks: the hub refused a batch: ", JsonGetString(frames[i], "msg"));
   if(Hub.PendingCount() >= MaxUnacked)
      return;  // the hub is slow or away: read on once it has caught up
   string rows = "";
   int count = 0;
   for(int s = 0; s < ArraySize(Names) && count < MaxRows; s++)
      count += CollectRows(s, MaxRows - count, rows);
   if(count == 0)
      return;
   string id = Hub.NextId(BatchPrefix);
   Hub.SendUntilAcked("", id, "{\"t\":\"ticks\",\"rows\":[" + rows + "],\"id\":" + JsonStr(id) + "}");
  }

//--- append up to `room` new ticks of symbol s to rows; returns how many
int CollectRows(const int s, const int room, string &rows)
  {
   MqlTick ticks[];
   int got = CopyTicks(Names[s], ticks, COPY_TICKS_ALL, (ulong)FromMs[s], (uint)(room + SeenAtFrom[s]));
   int added = 0;
   int skip = SeenAtFrom[s];
   for(int i = 0; i < got && added < room; i++)
     {
      if(ticks[i].time_msc == FromMs[s] && skip > 0)
        {
         skip--;  // sent in an earlier batch
         continue;
        }
      if(StringLen(rows) > 0)
         rows += ",";
      rows += "[" + JsonStr(Names[s]) + "," + JsonInt(ticks[i].time_msc) + "," + JsonNum(ticks[i].bid) +
              "," + JsonNum(ticks[i].ask) + "," + (ticks[i].last > 0 ? JsonNum(ticks[i].last) : "null") +
              "," + (ticks[i].volume_real > 0 ? JsonNum(ticks[i].volume_real) : "null") + "]";
      if(ticks[i].time_msc == FromMs[s])
         SeenAtFrom[s]++;
      else
        {
         FromMs[s] = ticks[i].time_msc;
         SeenAtFrom[s] = 1;
        }
      added++;
     }
   return added;
  }
//+------------------------------------------------------------------+
