// Go's duration syntax, as containerd's config writes durations.
#include <cctype>
#include <cmath>
#include <cstdint>
#include <string>

#include "berth/config.h"

namespace berth {
namespace {

struct Unit {
  std::string_view name;
  std::int64_t ns;
};
// Longest names first so "ms" is not read as "m".
constexpr Unit kUnits[] = {{"ns", 1},          {"us", 1000},
                           {"\xC2\xB5s", 1000}, {"ms", 1000000},
                           {"s", 1000000000},  {"m", 60000000000},
                           {"h", 3600000000000}};

void AppendFraction(std::string& out, std::int64_t v, std::int64_t unit) {
  out += std::to_string(v / unit);
  std::int64_t frac = v % unit;
  if (frac == 0) return;
  std::string digits = std::to_string(unit + frac).substr(1);
  while (!digits.empty() && digits.back() == '0') digits.pop_back();
  out += "." + digits;
}

}  // namespace

std::string FormatDuration(Duration d) {
  std::int64_t v = d.value.count();
  if (v == 0) return "0s";
  std::string out;
  if (v < 0) {
    out = "-";
    v = -v;
  }
  if (v < 1000) return out + std::to_string(v) + "ns";
  if (v < 1000000) {
    AppendFraction(out, v, 1000);
    return out + "\xC2\xB5s";
  }
  if (v < 1000000000) {
    AppendFraction(out, v, 1000000);
    return out + "ms";
  }
  std::int64_t h = v / 3600000000000;
  v %= 3600000000000;
  std::int64_t m = v / 60000000000;
  v %= 60000000000;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  AppendFraction(out, v, 1000000000);
  return out + "s";
}

bool ParseDuration(std::string_view text, Duration& out) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    out.value = std::chrono::nanoseconds(0);
    return true;
  }
  if (s.empty()) return false;
  long double total = 0;
  while (!s.empty()) {
    std::size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0) return false;
    std::string number(s.substr(0, i));
    if (number == "." || number.find('.') != number.rfind('.')) return false;
    s.remove_prefix(i);
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (s.substr(0, u.name.size()) == u.name) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return false;
    s.remove_prefix(unit->name.size());
    total += std::stold(number) * static_cast<long double>(unit->ns);
  }
  if (total > static_cast<long double>(INT64_MAX)) return false;
  auto ns = static_cast<std::int64_t>(std::llround(total));
  out.value = std::chrono::nanoseconds(negative ? -ns : ns);
  return true;
}

}  // namespace berth
