// The process log of berthd and of every program that runs plugins through
// libberth-runner (berth-snapshotter, the shim), in containerd's shapes:
//   text: time="2026-11-30T02:20:12.123456789Z" level=info msg="loading plugin \"x\"..." type=io.containerd.content.v1
//   json: {"level":"info","msg":"...","time":"...","type":"..."}
// Namespace berth::log, so that code anywhere in berth:: writes log::Info().
// Thread-safe. Configure once, before other threads start.
#ifndef BERTH_RUNNER_LOG_H_
#define BERTH_RUNNER_LOG_H_

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "berth/logger.h"
#include "berth/status.h"

namespace berth::log {

enum class Format { kText, kJson };

using Field = std::pair<std::string_view, std::string_view>;

// level: trace, debug, info, warn (or warning), error, fatal, panic.
// InvalidArgument on an unknown level or format.
Status Configure(std::string_view level, std::string_view format);
// Sends lines to a file instead of stderr (tests). Empty path: stderr.
Status SetOutputFile(const std::string& path);

bool Enabled(LogLevel level);
void Write(LogLevel level, std::string_view message,
           std::initializer_list<Field> fields = {});

inline void Debug(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(LogLevel::kDebug, m, f);
}
inline void Info(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(LogLevel::kInfo, m, f);
}
inline void Warn(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(LogLevel::kWarn, m, f);
}
inline void Error(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(LogLevel::kError, m, f);
}

// A Logger for plugin code: each line carries `plugin=<uri>`.
std::unique_ptr<Logger> ForPlugin(std::string uri);

// Formats one line (without the trailing newline); exposed for tests.
std::string FormatLine(Format format, LogLevel level, std::string_view message,
                       std::initializer_list<Field> fields,
                       std::string_view timestamp);

}  // namespace berth::log

#endif  // BERTH_RUNNER_LOG_H_
