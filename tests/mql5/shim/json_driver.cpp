// Runs Json.mqh on commands from stdin, one per line, fields separated by tabs; text travels
// as hex UTF-16 code units so that any character (tab, newline, quote) goes through.
//   GET <hex key> <hex json>   ->  1 <hex value> | 0      (JsonGet)
//   RAW <hex key> <hex json>   ->  1 <hex value> | 0      (JsonGetRaw)
//   STR <hex text>             ->  <hex JsonStr(text)>
//   NUM <double> <digits>      ->  <hex JsonNum(value, digits)>
#include <iostream>
#include <sstream>
#include "mql5.hpp"
#include "Json.mqh"

static string unhex(const std::string& hex) {
  std::u16string out;
  for (size_t i = 0; i + 4 <= hex.size(); i += 4) out.push_back((char16_t)std::stoi(hex.substr(i, 4), nullptr, 16));
  return string(out);
}

static std::string hex(const string& text) {
  std::string out;
  char unit[5];
  for (char16_t c : text.s) { snprintf(unit, sizeof unit, "%04x", (unsigned)c); out += unit; }
  return out;
}

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream fields(line);
    std::string op, a, b;
    std::getline(fields, op, '\t');
    std::getline(fields, a, '\t');
    std::getline(fields, b, '\t');
    if (op == "GET" || op == "RAW") {
      string value;
      bool found = op == "GET" ? JsonGet(unhex(b), unhex(a), value) : JsonGetRaw(unhex(b), unhex(a), value);
      std::cout << (found ? "1\t" + hex(value) : std::string("0")) << "\n";
    } else if (op == "STR") {
      std::cout << hex(JsonStr(unhex(a))) << "\n";
    } else if (op == "NUM") {
      std::cout << hex(JsonNum(std::stod(a), std::stoi(b))) << "\n";
    }
  }
}
