// The terminal's side of Client.mqh for g++: dynamic arrays, the Socket* functions over real
// POSIX sockets (plain TCP only), the clock, Print/Alert and the last error. With mql5.hpp it
// lets tests run mql5/Include/Tradewire/Client.mqh against a real hub. A test harness, not a
// port: only what Client.mqh calls is defined, with the semantics of the MQL5 reference.
#pragma once
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mql5.hpp"

#define INVALID_HANDLE (-1)
#define WHOLE_ARRAY (-1)
#define CP_UTF8 65001

template <class T>
struct MqlArray {  // an MQL5 dynamic array: T name[]
  std::vector<T> v;
  T& operator[](int i) { return v[i]; }
  const T& operator[](int i) const { return v[i]; }
};
template <class T> int ArraySize(const MqlArray<T>& a) { return (int)a.v.size(); }
template <class T> int ArrayResize(MqlArray<T>& a, int n) { a.v.resize(n); return n; }
template <class T> bool ArrayRemove(MqlArray<T>& a, int start, int count) {
  a.v.erase(a.v.begin() + start, a.v.begin() + start + count);
  return true;
}
template <class T>
int ArrayCopy(MqlArray<T>& dst, const MqlArray<T>& src, int dst_start = 0, int src_start = 0, int count = WHOLE_ARRAY) {
  if (count < 0) count = (int)src.v.size() - src_start;
  if ((int)dst.v.size() < dst_start + count) dst.v.resize(dst_start + count);
  for (int i = 0; i < count; i++) dst.v[dst_start + i] = src.v[src_start + i];
  return count;
}

static int g_last_error = 0;
inline int GetLastError() { return g_last_error; }
inline void ResetLastError() { g_last_error = 0; }
inline ulong GetTickCount64() {
  using namespace std::chrono;
  return (ulong)duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}
static std::mt19937 g_rng(1);
inline void MathSrand(unsigned seed) { g_rng.seed(seed); }
inline int MathRand() { return (int)(g_rng() % 32768); }
template <class A, class B> auto MathMin(A a, B b) {
  using C = std::common_type_t<A, B>;  // MQL5 compares in the wider type, as here
  return (C)a < (C)b ? (C)a : (C)b;
}

inline std::string utf8(const string& text) {
  std::string out;
  for (char16_t c : text.s) {
    if (c < 0x80) out.push_back((char)c);
    else if (c < 0x800) { out.push_back((char)(0xC0 | (c >> 6))); out.push_back((char)(0x80 | (c & 0x3F))); }
    else { out.push_back((char)(0xE0 | (c >> 12))); out.push_back((char)(0x80 | ((c >> 6) & 0x3F))); out.push_back((char)(0x80 | (c & 0x3F))); }
  }
  return out;
}
inline string from_utf8(const unsigned char* p, int n) {
  std::u16string out;
  for (int i = 0; i < n;) {
    unsigned c = p[i];
    if (c < 0x80) { out.push_back((char16_t)c); i += 1; }
    else if ((c & 0xE0) == 0xC0 && i + 1 < n) { out.push_back((char16_t)(((c & 0x1F) << 6) | (p[i + 1] & 0x3F))); i += 2; }
    else if (i + 2 < n) { out.push_back((char16_t)(((c & 0x0F) << 12) | ((p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F))); i += 3; }
    else break;
  }
  return string(out);
}
inline string CharArrayToString(const MqlArray<uchar>& a, int start = 0, int count = -1, int = CP_UTF8) {
  if (count < 0) count = (int)a.v.size() - start;
  return from_utf8(a.v.data() + start, count);
}
inline int StringToCharArray(const string& text, MqlArray<uchar>& a, int start = 0, int = WHOLE_ARRAY, int = CP_UTF8) {
  std::string bytes = utf8(text);
  a.v.resize(start + bytes.size() + 1);
  for (size_t i = 0; i < bytes.size(); i++) a.v[start + i] = (uchar)bytes[i];
  a.v[start + bytes.size()] = 0;
  return (int)bytes.size() + 1;
}
inline int StringTrimRight(string& text) {
  int removed = 0;
  while (!text.s.empty() && (text.s.back() == u' ' || text.s.back() == u'\r' || text.s.back() == u'\n' || text.s.back() == u'\t')) {
    text.s.pop_back();
    removed++;
  }
  return removed;
}
inline int StringTrimLeft(string& text) {
  size_t first = 0;
  while (first < text.s.size() && (text.s[first] == u' ' || text.s[first] == u'\r' || text.s[first] == u'\n' || text.s[first] == u'\t')) first++;
  text.s.erase(0, first);
  return (int)first;
}

// Print/Alert/StringFormat take MQL5 strings among their arguments.
inline std::string arg(const string& s) { return utf8(s); }
inline std::string arg(const char* s) { return s; }
template <class T> T arg(T v) { return v; }
template <class T> auto c_arg(const T& v) { return v; }
inline const char* c_arg(const std::string& s) { return s.c_str(); }
template <class... A> string StringFormat(const char* format, A... args) {
  auto kept = std::make_tuple(arg(args)...);
  char buffer[2048];
  std::apply([&](auto&... held) { snprintf(buffer, sizeof buffer, format, c_arg(held)...); }, kept);
  return string(buffer);
}
template <class... A> void PrintFormat(const char* format, A... args) { std::cerr << utf8(StringFormat(format, args...)) << "\n"; }
template <class... A> void Print(A... args) { ((std::cerr << arg(args)), ...); std::cerr << "\n"; }
template <class... A> void Alert(A... args) { std::cerr << "ALERT "; ((std::cerr << arg(args)), ...); std::cerr << "\n"; }

inline int SocketCreate(unsigned = 0) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) g_last_error = 5271;
  return fd < 0 ? INVALID_HANDLE : fd;
}
inline bool SocketConnect(int s, const string& host, unsigned port, unsigned) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, utf8(host).c_str(), &to.sin_addr) != 1 || connect(s, (sockaddr*)&to, sizeof to) != 0) {
    g_last_error = 5272;
    return false;
  }
  return true;
}
inline bool SocketIsConnected(int s) {
  char probe;
  ssize_t n = recv(s, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
  return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}
inline unsigned SocketIsReadable(int s) {
  int n = 0;
  if (ioctl(s, FIONREAD, &n) != 0) { g_last_error = 5273; return 0; }
  return (unsigned)n;
}
inline int SocketRead(int s, MqlArray<uchar>& buffer, unsigned maxlen, unsigned timeout_ms) {
  pollfd p{s, POLLIN, 0};
  if (poll(&p, 1, (int)timeout_ms) <= 0) return -1;
  std::vector<uchar> chunk(maxlen);
  ssize_t n = recv(s, chunk.data(), maxlen, 0);
  if (n <= 0) { g_last_error = 5273; return -1; }
  buffer.v.insert(buffer.v.end(), chunk.begin(), chunk.begin() + n);
  return (int)n;
}
inline int SocketSend(int s, const MqlArray<uchar>& buffer, unsigned len) {
  ssize_t n = send(s, buffer.v.data(), len, MSG_NOSIGNAL);
  if (n < 0) { g_last_error = 5273; return -1; }
  return (int)n;
}
inline bool SocketClose(int s) { return close(s) == 0; }
inline bool SocketTlsHandshake(int, const string&) { g_last_error = 5274; return false; }
inline int SocketTlsReadAvailable(int, MqlArray<uchar>&, unsigned) { return -1; }
inline int SocketTlsSend(int, const MqlArray<uchar>&, unsigned) { return -1; }
