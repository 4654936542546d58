// FakeDiffer: a berth::Differ whose Apply and Compare run hooks the test sets
// (default: NotImplemented naming the call, as a differ that does not handle
// a media type answers) and that counts its calls. For tests of whatever
// chooses among differs: the diff service.
// Thread-safe: hooks may run on any thread; set them before the calls.
#ifndef BERTH_TESTS_FAKES_FAKE_DIFFER_H_
#define BERTH_TESTS_FAKES_FAKE_DIFFER_H_

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "berth/diff.h"

namespace berth::fakes {

class FakeDiffer final : public Differ {
 public:
  std::function<Result<Descriptor>(const Descriptor& desc, const std::vector<Mount>& mounts)>
      on_apply;
  std::function<Result<Descriptor>(const std::vector<Mount>& lower, const std::vector<Mount>& upper,
                                   const DiffOptions& opts)>
      on_compare;

  Result<Descriptor> Apply(ContentStore&, const Descriptor& desc, const std::vector<Mount>& mounts,
                           const ApplyOptions&) override {
    ++applies;
    if (on_apply) return on_apply(desc, mounts);
    return Status::NotImplemented("fake differ: no Apply for " + desc.media_type);
  }
  Result<Descriptor> Compare(ContentStore&, const std::vector<Mount>& lower,
                             const std::vector<Mount>& upper, const DiffOptions& opts) override {
    ++compares;
    if (on_compare) return on_compare(lower, upper, opts);
    return Status::NotImplemented("fake differ: no Compare for " + opts.media_type);
  }

  std::atomic<int> applies{0};
  std::atomic<int> compares{0};
};

}  // namespace berth::fakes

#endif  // BERTH_TESTS_FAKES_FAKE_DIFFER_H_
