// berthd: the daemon's entry point. Parses the command line and hands over to
// daemon.h; `berthd config default|dump` print configurations.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "daemon.h"

namespace {

using berth::host::ConfigWarning;

int Fail(const std::string& message) {
  std::fprintf(stderr, "berthd: %s\n", message.c_str());
  return 1;
}

void PrintWarnings(const std::vector<ConfigWarning>& warnings) {
  for (const ConfigWarning& w : warnings) {
    std::fprintf(stderr, "warning: %s\n", w.ToString().c_str());
  }
}

int ConfigCommand(const berth::host::DaemonFlags& flags) {
  const std::vector<std::string>& words = flags.command;
  if (words.size() != 2 || (words[1] != "default" && words[1] != "dump")) {
    return Fail("usage: berthd config default|dump");
  }
  std::vector<ConfigWarning> warnings;
  berth::Result<std::string> text = berth::Status::Unknown("not rendered");
  if (words[1] == "default") {
    text = berth::host::RenderDefaultConfig();
  } else {
    berth::Result<berth::host::Config> config =
        berth::host::LoadEffectiveConfig(flags, &warnings);
    if (!config.ok()) return Fail(config.status().message());
    text = berth::host::RenderEffectiveConfig(*config, &warnings);
  }
  PrintWarnings(warnings);
  if (!text.ok()) return Fail(text.status().ToString());
  std::fputs(text->c_str(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto start = std::chrono::steady_clock::now();
  berth::Result<berth::host::DaemonFlags> flags =
      berth::host::ParseFlags(argc, argv);
  if (!flags.ok()) return Fail(flags.status().message());
  if (flags->help) {
    std::fputs(berth::host::UsageText().c_str(), stdout);
    return 0;
  }
  if (flags->version) {
    std::puts(berth::host::VersionLine().c_str());
    return 0;
  }
  if (!flags->command.empty()) {
    if (flags->command[0] == "config") return ConfigCommand(*flags);
    return Fail("unknown command \"" + flags->command[0] + "\"");
  }

  std::vector<ConfigWarning> warnings;
  berth::Result<berth::host::Config> config =
      berth::host::LoadEffectiveConfig(*flags, &warnings);
  if (!config.ok()) return Fail(config.status().message());
  return berth::host::RunDaemon(*config, *flags, warnings, start);
}
