// Intents: the record of a two-store change in flight, so that a crash
// between the metadata write and the backend's change is repaired at the
// next start (snapshots.h and content.h, "Crash safety").
//
// An intent is written (synced) in the metadata database before the backend
// is asked to change anything; the change's final metadata batch deletes it
// together with the record change, so an intent left in the database means
// exactly: the daemon stopped somewhere between the two writes. Start-up
// (and each cleanup of the backend, under the lock the change held) resolves
// it by asking the backend which side of its own step it is on.
//
// Keys (frozen on disk, outside every namespace's data so that they neither
// block a namespace's deletion nor meet garbage collection's mark):
//   v1/intents/snapshots/<snapshotter>/<new backend key>
//   v1/intents/content/<ns>/<ref>
// Value: a google.protobuf.Struct with the string fields of Intent below
// (labels a nested Struct of strings; created_ns and size decimal strings).
// Fields added later must be optional; a reader ignores unknown ones.
//
// Thread-safe (pure functions).
#ifndef BERTH_HOST_METADATA_INTENTS_H_
#define BERTH_HOST_METADATA_INTENTS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "berth/status.h"

namespace berth::host::metadata {

struct Intent {
  // Frozen on disk.
  static constexpr std::string_view kPrepare = "prepare";
  static constexpr std::string_view kView = "view";
  static constexpr std::string_view kCommit = "commit";
  static constexpr std::string_view kContentCommit = "content-commit";

  std::string op;               // one of the above
  std::string ns;               // the caller's namespace
  std::string key;              // Prepare/View: the new key; Commit: the active
                                // key; content: the ingest ref
  std::string name;             // Commit: the committed name
  std::string parent;           // snapshots: the client's parent name
  std::string old_backend_key;  // Commit: the active snapshot's backend key
  std::string new_backend_key;  // snapshots: the backend key being made
  std::string digest;           // content: the blob being published
  std::int64_t size = 0;        // content: its size
  std::string lease;            // the caller's lease, "" for none
  std::map<std::string, std::string> labels;  // the record's labels
  std::int64_t created_ns = 0;  // the record's creation time (ns since epoch)
};

std::string EncodeIntent(const Intent& intent);
// Unknown ("corrupt intent") when `bytes` is no intent.
Result<Intent> DecodeIntent(std::string_view bytes);

namespace keys {
inline constexpr std::string_view kIntentsRoot = "v1/intents/";
std::string SnapshotIntentPrefix(std::string_view snapshotter);
std::string SnapshotIntent(std::string_view snapshotter, std::string_view new_backend_key);
inline constexpr std::string_view kContentIntentPrefix = "v1/intents/content/";
std::string ContentIntent(std::string_view ns, std::string_view ref);
}  // namespace keys

}  // namespace berth::host::metadata

#endif  // BERTH_HOST_METADATA_INTENTS_H_
