#include "berth/runner/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>

#include "berth/mutex.h"
#include "berth/time.h"

namespace berth::log {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<Format> g_format{Format::kText};

std::shared_ptr<spdlog::logger>& Sink() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = std::make_shared<spdlog::logger>(
        "berthd", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return logger;
}
// Serialises SetOutputFile; readers load Sink() atomically.
berth::Mutex g_sink_mu;

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return "trace";
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

// Quotes as logrus does: a value with spaces, quotes, '=' or control bytes is
// written as a Go-style quoted string; anything else bare.
void AppendTextValue(std::string& out, std::string_view v, bool always_quote) {
  bool quote = always_quote || v.empty();
  for (char c : v) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
          c == '_' || c == '/' || c == '@' || c == '^' || c == '+' || c == ':')) {
      quote = true;
      break;
    }
  }
  if (!quote) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void AppendJsonString(std::string& out, std::string_view v) {
  out += '"';
  for (char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

std::string Now() { return FormatRfc3339NanoFixed(std::chrono::system_clock::now()); }

class PluginLogger : public Logger {
 public:
  explicit PluginLogger(std::string uri) : uri_(std::move(uri)) {}
  void Log(LogLevel level, std::string_view message) override {
    Write(level, message, {{"plugin", uri_}});
  }
  bool Enabled(LogLevel level) const override { return log::Enabled(level); }

 private:
  std::string uri_;
};

}  // namespace

std::string FormatLine(Format format, LogLevel level, std::string_view message,
                       std::initializer_list<Field> fields,
                       std::string_view timestamp) {
  std::string out;
  out.reserve(96 + message.size());
  if (format == Format::kJson) {
    out += "{\"level\":";
    AppendJsonString(out, LevelName(level));
    out += ",\"msg\":";
    AppendJsonString(out, message);
    out += ",\"time\":";
    AppendJsonString(out, timestamp);
    for (const auto& [k, v] : fields) {
      out += ',';
      AppendJsonString(out, k);
      out += ':';
      AppendJsonString(out, v);
    }
    out += '}';
    return out;
  }
  out += "time=\"";
  out += timestamp;
  out += "\" level=";
  out += LevelName(level);
  out += " msg=";
  AppendTextValue(out, message, true);
  for (const auto& [k, v] : fields) {
    out += ' ';
    out += k;
    out += '=';
    AppendTextValue(out, v, false);
  }
  return out;
}

Status Configure(std::string_view level, std::string_view format) {
  LogLevel l;
  if (level == "trace") l = LogLevel::kTrace;
  else if (level == "debug") l = LogLevel::kDebug;
  else if (level == "info" || level.empty()) l = LogLevel::kInfo;
  else if (level == "warn" || level == "warning") l = LogLevel::kWarn;
  else if (level == "error" || level == "fatal" || level == "panic") l = LogLevel::kError;
  else return Status::InvalidArgument("unknown log level \"" + std::string(level) + "\"");
  Format f;
  if (format.empty() || format == "text") f = Format::kText;
  else if (format == "json") f = Format::kJson;
  else return Status::InvalidArgument("unknown log format \"" + std::string(format) +
                                      "\" (want text or json)");
  g_level = static_cast<int>(l);
  g_format = f;
  return Status::Ok();
}

Status SetOutputFile(const std::string& path) {
  berth::MutexLock lock(&g_sink_mu);
  try {
    std::shared_ptr<spdlog::sinks::sink> sink;
    if (path.empty()) sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    else sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
    auto l = std::make_shared<spdlog::logger>("berthd", sink);
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    std::atomic_store(&Sink(), l);
  } catch (const spdlog::spdlog_ex& e) {
    return Status::InvalidArgument(std::string("log output: ") + e.what());
  }
  return Status::Ok();
}

bool Enabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

void Write(LogLevel level, std::string_view message,
           std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  std::string line = FormatLine(g_format.load(), level, message, fields, Now());
  std::atomic_load(&Sink())->info(line);
}

std::unique_ptr<Logger> ForPlugin(std::string uri) {
  return std::make_unique<PluginLogger>(std::move(uri));
}

}  // namespace berth::log
