// Runs mql5/Include/Tradewire/Client.mqh (translated to C++ by the test) against a real hub:
//   client_driver HOST PORT USER PASSWORD STATE_JSON SECONDS
// After each login it subscribes to channel alpha and publishes STATE_JSON (its "id" is "s1")
// until acked. It prints LOGIN at each login and FRAME <line> for every frame the client
// hands over, then closes after SECONDS.
#include "terminal.hpp"
#include "Tradewire/Client.mqh"

int main(int argc, char** argv) {
  if (argc != 7) return 2;
  CTradewireClient hub;
  hub.Init(argv[1], (unsigned)atoi(argv[2]), false, argv[3], argv[4], "shim/1.0");
  ulong until = GetTickCount64() + (ulong)(atof(argv[6]) * 1000);
  while (GetTickCount64() < until) {
    MqlArray<string> frames;
    hub.Poll(frames);
    if (hub.JustLoggedIn()) {
      std::cout << "LOGIN" << std::endl;
      hub.Send("{\"t\":\"sub\",\"ch\":\"alpha\",\"id\":\"sub1\"}");
      hub.SendUntilAcked("state", "s1", argv[5]);
    }
    for (int i = 0; i < ArraySize(frames); i++) std::cout << "FRAME " << utf8(frames[i]) << std::endl;
    usleep(5000);
  }
  hub.Close("done");
  return 0;
}
