// The init order of plugins, as containerd computes it: walk registrations
// in registration order; before each, depth-first, every registration of each
// type it requires (in its requires order, then registration order), "*"
// meaning every other registration (except other "*" ones, which keep their
// registration order). Disabled plugins are left out. Unlike containerd, a
// cycle is an error that names it ("a -> b -> a").
#ifndef BERTH_HOST_CORE_GRAPH_H_
#define BERTH_HOST_CORE_GRAPH_H_

#include <set>
#include <string>
#include <vector>

#include "berth/plugin.h"
#include "berth/status.h"

namespace berth::host {

// Indices into `registrations`, in init order. `disabled` holds URIs.
// FailedPrecondition on a cycle; duplicate URIs are InvalidArgument.
Result<std::vector<std::size_t>> InitOrder(
    const std::vector<const Registration*>& registrations,
    const std::set<std::string>& disabled);

}  // namespace berth::host

#endif  // BERTH_HOST_CORE_GRAPH_H_
