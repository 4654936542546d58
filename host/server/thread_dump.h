// A snapshot of every thread of this process, read from /proc/self/task, for
// the SIGUSR1 dump (the counterpart of containerd's goroutine stack dump).
//
// Thread-safe (reads /proc only).
#ifndef BERTH_HOST_SERVER_THREAD_DUMP_H_
#define BERTH_HOST_SERVER_THREAD_DUMP_H_

#include <string>

namespace berth::host {

// One line per thread between "=== BEGIN thread dump ===" and
// "=== END thread dump ===":
//   thread 1234 (berthd) state="S (sleeping)" wchan=do_sigtimedwait syscall=128
// Threads that exit while being read are left out.
std::string DumpThreads();

}  // namespace berth::host

#endif  // BERTH_HOST_SERVER_THREAD_DUMP_H_
