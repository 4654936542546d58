// The shim's log: logfmt lines as containerd's shims write them
// (time="..." level=info msg="..." runtime=io.containerd.berth.v2), to the
// bundle's `log` fifo when containerd opened one (it copies the fifo into its
// own log), else to stderr. Writes never block: a full fifo drops the line.
//
// Single-threaded use (the shim's one thread).
#ifndef BERTH_SHIM_LOG_H_
#define BERTH_SHIM_LOG_H_

#include <string>
#include <string_view>

#include "berth/logger.h"

namespace berth::shim {

class ShimLogger : public Logger {
 public:
  // `debug`: debug lines too (the -debug flag); info and above otherwise.
  explicit ShimLogger(bool debug) : level_(debug ? LogLevel::kDebug : LogLevel::kInfo) {}
  ~ShimLogger() override;

  // Opens `<bundle>/log` for writing when it is a fifo with a reader; keeps
  // stderr otherwise. Returns whether the fifo is used.
  bool OpenFifo(const std::string& bundle);
  void set_fields(std::string fields) { fields_ = std::move(fields); }

  void Log(LogLevel level, std::string_view message) override;
  bool Enabled(LogLevel level) const override { return level >= level_; }

 private:
  LogLevel level_;
  int fd_ = 2;
  std::string fields_;  // extra " key=value" pairs
};

}  // namespace berth::shim

#endif  // BERTH_SHIM_LOG_H_
