// The content-local plugin loaded as berthd loads it — its library opened
// with Boost.DLL, its descriptor checked, its registration's init called —
// but with a minimal InitContext of the bench's own, so that ingest and read
// run in this process without gRPC or metadata. Not thread-safe.
#ifndef BERTH_BENCH_CONTENT_IN_PROCESS_H_
#define BERTH_BENCH_CONTENT_IN_PROCESS_H_

#include <boost/dll/shared_library.hpp>
#include <memory>
#include <string>

#include "berth/content.h"
#include "berth/status.h"

namespace berth::bench {

class LoadedContentStore {
 public:
  // Opens `library` (content-local.so) and initialises its
  // io.containerd.content.v1 registration with its root at `root`.
  static Result<std::unique_ptr<LoadedContentStore>> Load(const std::string& library,
                                                          const std::string& root);
  ~LoadedContentStore();  // closes the store before the library

  ContentStore& store() { return *store_; }

 private:
  LoadedContentStore() = default;

  boost::dll::shared_library library_;
  std::shared_ptr<ContentStore> store_;
};

}  // namespace berth::bench

#endif  // BERTH_BENCH_CONTENT_IN_PROCESS_H_
