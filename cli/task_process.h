// What `berthctl run` and `berthctl tasks` share about a task's processes:
// running one in the foreground with its stdio attached (Start, the pty's
// size, Wait, the output drained), deleting a task, and the call contexts
// for calls that last as long as a process.
//
// Not thread-safe beyond what is said: one command drives one process.
#ifndef BERTH_CLI_TASK_PROCESS_H_
#define BERTH_CLI_TASK_PROCESS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client.h"
#include "containerd/services/tasks/v1/tasks.grpc.pb.h"
#include "task_io.h"

namespace berth::cli {

namespace tasks_pb = containerd::services::tasks::v1;

// A context without a deadline (Wait lasts as long as the process).
std::unique_ptr<grpc::ClientContext> UnboundedContext(const Client& client);

// Starts process `exec_id` ("" = the init process) of task `id`, whose
// stdio is `io` (output already started), sends the terminal's size (with
// a terminal, now and on SIGWINCH), forwards berthctl's signals to it,
// attaches stdin (Tasks.CloseIO once it ends), waits for the exit and for
// the output to drain. Returns 0 with the
// exit status in `*exit_status`, or the exit code of an error it reported.
int StartAndWait(Client& client, tasks_pb::Tasks::Stub& tasks, const std::string& id,
                 const std::string& exec_id, TaskIo& io, std::uint32_t* exit_status);

// Tasks.Delete of task `id`; 0, or the exit code of the reported error.
int DeleteTask(Client& client, tasks_pb::Tasks::Stub& tasks, const std::string& id);

// Parses a signal as ctr does: a number, "SIGKILL" or "KILL". 0 when unknown.
int ParseSignal(const std::string& text);

}  // namespace berth::cli

#endif  // BERTH_CLI_TASK_PROCESS_H_
