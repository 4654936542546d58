#include "args.h"

namespace berth::cli {

Result<po::variables_map> ParseArgs(const std::vector<std::string>& args,
                                    const po::options_description& options,
                                    const std::string& positional_name) {
  po::positional_options_description positional;
  if (!positional_name.empty()) positional.add(positional_name.c_str(), -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args)
                  .options(options)
                  .positional(positional)
                  .run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return Status::InvalidArgument(e.what());
  }
  return vm;
}

std::vector<std::string> Words(const po::variables_map& vm,
                               const std::string& name) {
  if (!vm.count(name)) return {};
  return vm[name].as<std::vector<std::string>>();
}

std::size_t FirstWord(const std::vector<std::string>& args,
                      const std::set<std::string>& takes_value) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") return i + 1;
    if (args[i].size() < 2 || args[i][0] != '-') return i;
    if (takes_value.count(args[i])) ++i;
  }
  return args.size();
}

}  // namespace berth::cli
