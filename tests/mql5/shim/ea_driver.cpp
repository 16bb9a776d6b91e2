// Runs one Expert Advisor (translated to C++ by the test) as a terminal would: its inputs set
// (ea_inputs.hpp, written by the test), OnInit, then OnTimer every TIMER_MS and
// OnTradeTransaction whenever the simulated account changes, until SIGTERM, then OnDeinit.
//   ea_driver            (TW_ACCOUNT=127.0.0.1:PORT names the simulated account)
#include <csignal>

#include "trade.hpp"
#include "ea_source.hpp"
#include "ea_inputs.hpp"

static volatile std::sig_atomic_t g_stop = 0;

int main() {
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  SetInputs();
  if (OnInit() != INIT_SUCCEEDED) return 1;
  std::cout << "STARTED" << std::endl;
  long seen = TwShimAccountVersion();
  while (!g_stop) {
    long version = TwShimAccountVersion();
    if (version != seen) {  // a deal, an order added, changed or removed, a stop moved
      seen = version;
      MqlTradeTransaction trans;
      MqlTradeRequest request;
      MqlTradeResult result;
      OnTradeTransaction(trans, request, result);
    }
    OnTimer();
    usleep(TIMER_MS * 1000);
  }
  OnDeinit(0);
  return 0;
}
