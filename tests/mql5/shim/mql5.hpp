// A minimal MQL5 runtime in C++, just enough to compile and run the string and JSON code of
// mql5/Include/Tradewire/Json.mqh under g++ (tests/mql5/test_json_shim.py). MQL5 strings are
// UTF-16, as here. This is a test harness, not a port: only what Json.mqh calls is defined.
#pragma once
#include <cstdarg>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>

typedef unsigned short ushort;
typedef unsigned char uchar;
typedef unsigned long ulong;

struct string {
  std::u16string s;
  string() {}
  string(const char* text) { for (; *text; ++text) s.push_back((unsigned char)*text); }
  explicit string(std::u16string text) : s(std::move(text)) {}
  string& operator+=(const string& other) { s += other.s; return *this; }
  bool operator==(const string& other) const { return s == other.s; }
  bool operator!=(const string& other) const { return s != other.s; }
};

inline string operator+(const string& a, const string& b) { return string(a.s + b.s); }
inline int StringLen(const string& text) { return (int)text.s.size(); }
inline ushort StringGetCharacter(const string& text, int pos) {
  return pos >= 0 && pos < (int)text.s.size() ? text.s[pos] : 0;
}
inline string StringSubstr(const string& text, int start, int length = -1) {
  if (start < 0 || start >= (int)text.s.size()) return string();
  return string(length < 0 ? text.s.substr(start) : text.s.substr(start, length));
}
inline int StringFind(const string& text, const string& match, int start = 0) {
  auto at = text.s.find(match.s, start);
  return at == std::u16string::npos ? -1 : (int)at;
}
inline string ShortToString(ushort code) { return string(std::u16string(1, (char16_t)code)); }
inline string StringFormat(const char* format, ...) {
  char buffer[512];
  va_list args;
  va_start(args, format);
  vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  return string(buffer);
}
inline std::string ascii(const string& text) {
  std::string out;
  for (char16_t c : text.s) out.push_back((char)c);
  return out;
}
inline string DoubleToString(double value, int digits = 8) {
  char buffer[64];
  snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return string(buffer);
}
inline string IntegerToString(long value) { return string(std::to_string(value).c_str()); }
inline double StringToDouble(const string& text) { return strtod(ascii(text).c_str(), nullptr); }
inline long StringToInteger(const string& text) { return strtol(ascii(text).c_str(), nullptr, 0); }
