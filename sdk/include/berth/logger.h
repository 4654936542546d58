// The logger the host hands each plugin. Lines carry the plugin's URI.
// Thread-safe.
#ifndef BERTH_LOGGER_H_
#define BERTH_LOGGER_H_

#include <string_view>

namespace berth {

// Frozen: part of the plugin ABI.
enum class LogLevel : int { kTrace = 0, kDebug, kInfo, kWarn, kError };

class Logger {
 public:
  virtual ~Logger();
  virtual void Log(LogLevel level, std::string_view message) = 0;
  virtual bool Enabled(LogLevel level) const = 0;

  void Debug(std::string_view m) { Log(LogLevel::kDebug, m); }
  void Info(std::string_view m) { Log(LogLevel::kInfo, m); }
  void Warn(std::string_view m) { Log(LogLevel::kWarn, m); }
  void Error(std::string_view m) { Log(LogLevel::kError, m); }
};

}  // namespace berth

#endif  // BERTH_LOGGER_H_
