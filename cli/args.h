// Parsing of a command's words with boost.program_options, reporting misuse
// as a Status instead of an exception. Thread-safe (pure functions).
#ifndef BERTH_CLI_ARGS_H_
#define BERTH_CLI_ARGS_H_

#include <boost/program_options.hpp>
#include <set>
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

// Where a command line's options end and its words begin, for commands
// whose last words are another command (`run ID CMD...`, `exec ID CMD...`):
// the index of the first word that is neither an option nor the value of one
// of `takes_value` ("--runtime", ...; "--opt=value" needs none), or of the
// word after a "--". args.size() when there is none.
std::size_t FirstWord(const std::vector<std::string>& args,
                      const std::set<std::string>& takes_value);

}  // namespace berth::cli

#endif  // BERTH_CLI_ARGS_H_
