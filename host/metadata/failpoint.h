// Failpoints: named places in the metadata layer's two-store changes where a
// test stops berthd as a crash would, between one store's write and the
// other's (see "Crash safety" in snapshots.h and content.h).
//
// - berthd: the environment variable BERTH_FAILPOINT=<name>, read once (at
//   the first Hit or Armed call, which the metadata plugin's init makes),
//   arms one failpoint; crossing it logs an error and _exit(137)s, with no
//   destructor, flush or unlock run. Unset or empty: every Hit is a no-op
//   (one load of an atomic). Compiled in always, so the tested binary is the
//   shipped one.
// - Unit tests: SetHandlerForTesting installs a function that every Hit
//   calls with its name (and that may throw to fake a crash in process); it
//   takes precedence over BERTH_FAILPOINT.
//
// The names, one per gap between two steps (frozen: tests name them):
//   snapshot-prepare-after-intent   snapshot-prepare-after-backend
//   snapshot-prepare-after-record   (Prepare and View)
//   snapshot-commit-after-intent    snapshot-commit-after-backend
//   snapshot-commit-after-record
//   snapshot-remove-before-record   snapshot-remove-after-record
//   content-commit-after-intent     content-commit-after-backend
//   content-commit-after-record
//
// Thread-safe.
#ifndef BERTH_HOST_METADATA_FAILPOINT_H_
#define BERTH_HOST_METADATA_FAILPOINT_H_

#include <functional>
#include <string>
#include <string_view>

namespace berth::host::failpoint {

inline constexpr char kEnvironmentVariable[] = "BERTH_FAILPOINT";

// Crosses the failpoint `name`: see the header comment.
void Hit(std::string_view name);

// The failpoint BERTH_FAILPOINT arms, "" for none.
const std::string& Armed();

// Installs `handler` (empty: removes it). Tests only.
void SetHandlerForTesting(std::function<void(std::string_view)> handler);

}  // namespace berth::host::failpoint

#endif  // BERTH_HOST_METADATA_FAILPOINT_H_
