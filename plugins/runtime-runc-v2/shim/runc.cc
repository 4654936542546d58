#include "runc.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "process.h"

namespace berth::shim {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  size_t start = s.find_first_not_of(" \n");
  return start == std::string::npos ? std::string() : s.substr(start);
}

}  // namespace

std::vector<std::string> Runc::Command(std::vector<std::string> args) const {
  std::vector<std::string> argv = {config_.binary};
  if (!config_.root.empty()) argv.insert(argv.end(), {"--root", config_.root});
  if (!config_.log_path.empty()) {
    argv.insert(argv.end(), {"--log", config_.log_path, "--log-format", "json"});
  }
  if (config_.systemd_cgroup) argv.push_back("--systemd-cgroup");
  argv.insert(argv.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  return argv;
}

std::string Runc::LastLogError() const {
  std::ifstream in(config_.log_path);
  std::string line, last;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (JsonString(j, "level") == "error") last = Trim(JsonString(j, "msg"));
  }
  return last;
}

void Runc::RunOrError(std::vector<std::string> args, RuncStdio stdio, std::string what, Done done) {
  CommandSpec spec;
  spec.argv = Command(std::move(args));
  spec.stdin_fd = stdio.in;
  spec.stdout_fd = stdio.out;
  spec.stderr_fd = stdio.err;
  spec.null_output = stdio.container;
  runner_.Run(std::move(spec), [self = shared_from_this(), what = std::move(what),
                                done = std::move(done)](Result<CommandOutcome> r) {
    if (!r.ok()) return done(r.status().Annotate(what));
    if (r->exit_code == 0) return done(Status::Ok());
    std::string message = Trim(r->output);
    if (message.empty()) message = self->LastLogError();
    if (message.empty()) message = "exit status " + std::to_string(r->exit_code);
    done(Status::Unknown(what + ": " + message));
  });
}

void Runc::Create(const std::string& id, const CreateOptions& o, Done done) {
  std::vector<std::string> args = {"create", "--bundle", o.bundle, "--pid-file", o.pid_file};
  if (!o.console_socket.empty()) args.insert(args.end(), {"--console-socket", o.console_socket});
  if (o.no_pivot) args.push_back("--no-pivot");
  if (o.no_new_keyring) args.push_back("--no-new-keyring");
  args.push_back(id);
  RuncStdio stdio = o.stdio;
  stdio.container = true;
  RunOrError(std::move(args), stdio, "OCI runtime create failed", std::move(done));
}

void Runc::Exec(const std::string& id, const ExecOptions& o, Done done) {
  std::vector<std::string> args = {"exec",     "--process",  o.process_file,
                                   "--detach", "--pid-file", o.pid_file};
  if (!o.console_socket.empty()) args.insert(args.end(), {"--console-socket", o.console_socket});
  args.push_back(id);
  RuncStdio stdio = o.stdio;
  stdio.container = true;
  RunOrError(std::move(args), stdio, "OCI runtime exec failed", std::move(done));
}

void Runc::Start(const std::string& id, Done done) {
  RunOrError({"start", id}, {}, "OCI runtime start failed", std::move(done));
}

void Runc::Delete(const std::string& id, bool force, Done done) {
  std::vector<std::string> args = {"delete"};
  if (force) args.push_back("--force");
  args.push_back(id);
  RunOrError(std::move(args), {}, "failed to delete task", std::move(done));
}

void Runc::Kill(const std::string& id, int signal, bool all, Done done) {
  std::vector<std::string> args = {"kill"};
  if (all) args.push_back("--all");
  args.insert(args.end(), {id, std::to_string(signal)});
  RunOrError(std::move(args), {}, "kill", std::move(done));
}

void Runc::Pause(const std::string& id, Done done) {
  RunOrError({"pause", id}, {}, "OCI runtime pause failed", std::move(done));
}

void Runc::Resume(const std::string& id, Done done) {
  RunOrError({"resume", id}, {}, "OCI runtime resume failed", std::move(done));
}

void Runc::Update(const std::string& id, const std::string& resources_file, Done done) {
  RunOrError({"update", "--resources", resources_file, id}, {}, "OCI runtime update failed",
             std::move(done));
}

void Runc::Ps(const std::string& id, std::function<void(Result<std::vector<int>>)> done) {
  CommandSpec spec;
  spec.argv = Command({"ps", "--format", "json", id});
  // stderr apart would need a second pipe; runc prints errors, not JSON, so a
  // failed parse carries the text.
  runner_.Run(std::move(spec), [done = std::move(done)](Result<CommandOutcome> r) {
    if (!r.ok()) return done(r.status());
    if (r->exit_code != 0) {
      return done(Status::Unknown("runc ps: exit status " + std::to_string(r->exit_code) + ": " +
                                  Trim(r->output)));
    }
    nlohmann::json j = nlohmann::json::parse(r->output, nullptr, /*allow_exceptions=*/false);
    if (j.is_null()) return done(std::vector<int>{});  // no processes
    if (!j.is_array()) {
      return done(Status::Unknown("runc ps: unexpected output: " + Trim(r->output)));
    }
    std::vector<int> pids;
    for (const nlohmann::json& item : j) pids.push_back(item.is_number() ? item.get<int>() : 0);
    done(std::move(pids));
  });
}

}  // namespace berth::shim
