// Parsing of a command's words with boost.program_options, reporting misuse
// as a Status instead of an exception. Thread-safe (pure functions).
#ifndef BERTH_CLI_ARGS_H_
#define BERTH_CLI_ARGS_H_

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "berth/status.h"

namespace berth::cli {

namespace po = boost::program_options;

// Parses `args` against `options`; the words that are not options are stored
// under `positional_name` (a std::vector<std::string> option the caller
// declares in `options`), or rejected when `positional_name` is empty.
// InvalidArgument naming the bad word on misuse.
Result<po::variables_map> ParseArgs(const std::vector<std::string>& args,
                                    const po::options_description& options,
                                    const std::string& positional_name = "");

// The words stored under `name`, or none.
std::vector<std::string> Words(const po::variables_map& vm,
                               const std::string& name);

}  // namespace berth::cli

#endif  // BERTH_CLI_ARGS_H_
