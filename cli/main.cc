// berthctl: a client for berthd.
//   berthctl [--address|-a SOCK] [--namespace|-n NS] [--timeout DUR] [--lease ID] <command>
//   ...
// Global options come before the command; the command's own words follow it.
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "args.h"
#include "berth/config.h"
#include "client.h"
#include "command.h"

namespace berth::cli {
namespace {

constexpr char kDefaultTimeout[] = "30s";

po::options_description GlobalOptions() {
  po::options_description options("global options");
  // clang-format off
  options.add_options()
      ("help,h", po::bool_switch(), "show this help")
      ("address,a", po::value<std::string>(),
       "berthd's socket (env CONTAINERD_ADDRESS; "
       "default ./.berth/berthd.sock)")
      ("namespace,n", po::value<std::string>(),
       "namespace (env CONTAINERD_NAMESPACE; default \"default\")")
      ("timeout", po::value<std::string>()->default_value(kDefaultTimeout),
       "deadline of each call (Go duration, \"0s\" for none)")
      ("lease", po::value<std::string>(),
       "hold what the command creates in this lease");
  // clang-format on
  return options;
}

void PrintHelp(const po::options_description& options) {
  std::cout << "usage: berthctl [global options] <command> [<args>]\n\n"
            << "commands:\n";
  for (const auto& group : CommandGroups()) {
    std::cout << "  " << group.name
              << std::string(
                     group.name.size() < 12 ? 12 - group.name.size() : 1, ' ')
              << group.summary << "\n";
  }
  std::cout << "\n" << options;
}

// Index of the command word: the first word that is neither a global option
// nor the value of one.
std::size_t CommandIndex(const std::vector<std::string>& words) {
  static const std::set<std::string> kTakesValue = {"-a", "--address", "-n",
                                                    "--namespace", "--timeout",
                                                    "--lease"};
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i].empty() || words[i][0] != '-') return i;
    if (kTakesValue.count(words[i])) ++i;
  }
  return words.size();
}

const CommandGroup* FindGroup(const std::string& name) {
  for (const auto& group : CommandGroups()) {
    if (group.name == name) return &group;
  }
  return nullptr;
}

// Applies the global flags over the environment's defaults.
Result<ClientOptions> ResolveOptions(const po::variables_map& vm) {
  ClientOptions options = DefaultClientOptions();
  if (vm.count("address")) options.address = vm["address"].as<std::string>();
  if (vm.count("namespace")) {
    options.name_space = vm["namespace"].as<std::string>();
  }
  if (vm.count("lease")) options.lease = vm["lease"].as<std::string>();
  Duration timeout;
  if (!ParseDuration(vm["timeout"].as<std::string>(), timeout)) {
    return Status::InvalidArgument("invalid --timeout \"" +
                                   vm["timeout"].as<std::string>() + "\"");
  }
  options.timeout = timeout.value;
  return options;
}

int Main(const std::vector<std::string>& words) {
  const std::size_t command_at = CommandIndex(words);
  const std::vector<std::string> globals(words.begin(),
                                         words.begin() + command_at);
  const po::options_description options = GlobalOptions();
  auto vm = ParseArgs(globals, options);
  if (!vm.ok()) return ReportError(vm.status().message());
  if ((*vm)["help"].as<bool>() || command_at == words.size()) {
    PrintHelp(options);
    return command_at == words.size() && !(*vm)["help"].as<bool>() ? 1 : 0;
  }

  const CommandGroup* group = FindGroup(words[command_at]);
  if (group == nullptr) {
    return ReportError("unknown command \"" + words[command_at] +
                       "\" (see berthctl --help)");
  }
  auto client_options = ResolveOptions(*vm);
  if (!client_options.ok())
    return ReportError(client_options.status().message());
  Client client(std::move(*client_options));
  return group->run(client, std::vector<std::string>(
                                words.begin() + command_at + 1, words.end()));
}

}  // namespace
}  // namespace berth::cli

int main(int argc, char** argv) {
  return berth::cli::Main(std::vector<std::string>(argv + 1, argv + argc));
}
