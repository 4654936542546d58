#include "core/graph.h"

#include <map>
#include <string_view>

#include "berth/plugin_types.h"

namespace berth::host {
namespace {

// Depth-first walk in containerd's order. `on_path` holds the registrations
// being visited, in visiting order, to name a cycle when one closes.
class OrderWalk {
 public:
  OrderWalk(const std::vector<const Registration*>& regs,
            const std::vector<bool>& enabled)
      : regs_(regs), enabled_(enabled), added_(regs.size(), false),
        visiting_(regs.size(), false) {}

  // Visits `i`'s requirements, then appends `i`.
  Status Visit(std::size_t i) {
    if (added_[i]) return Status::Ok();
    if (visiting_[i]) return CycleError(i);
    visiting_[i] = true;
    path_.push_back(i);
    for (const auto* list : {&regs_[i]->required_types, &regs_[i]->optional_types}) {
      for (const std::string& t : *list) {
        for (std::size_t j = 0; j < regs_.size(); ++j) {
          if (j == i || !enabled_[j]) continue;
          if (t == types::kAllPlugins ? RequiresAll(j) : regs_[j]->type != t) {
            continue;
          }
          BERTH_RETURN_IF_ERROR(Visit(j));
        }
      }
    }
    path_.pop_back();
    visiting_[i] = false;
    added_[i] = true;
    order_.push_back(i);
    return Status::Ok();
  }

  std::vector<std::size_t> TakeOrder() { return std::move(order_); }

 private:
  // Two "*" registrations do not pull each other (that would always be a
  // cycle); they keep their registration order.
  bool RequiresAll(std::size_t j) const {
    const auto& req = regs_[j]->required_types;
    return req.size() == 1 && req[0] == types::kAllPlugins;
  }

  Status CycleError(std::size_t closing) const {
    std::string text = "plugin dependency cycle: ";
    bool in_cycle = false;
    for (std::size_t k : path_) {
      if (k == closing) in_cycle = true;
      if (!in_cycle) continue;
      text += regs_[k]->uri() + " -> ";
    }
    text += regs_[closing]->uri();
    return Status::FailedPrecondition(std::move(text));
  }

  const std::vector<const Registration*>& regs_;
  const std::vector<bool>& enabled_;
  std::vector<bool> added_;
  std::vector<bool> visiting_;
  std::vector<std::size_t> path_;
  std::vector<std::size_t> order_;
};

Status CheckUnique(const std::vector<const Registration*>& regs) {
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < regs.size(); ++i) {
    auto [it, inserted] = seen.emplace(regs[i]->uri(), i);
    if (!inserted) {
      return Status::InvalidArgument(regs[i]->uri() +
                                     ": plugin id already registered");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<std::size_t>> InitOrder(
    const std::vector<const Registration*>& registrations,
    const std::set<std::string>& disabled) {
  BERTH_RETURN_IF_ERROR(CheckUnique(registrations));
  std::vector<bool> enabled(registrations.size());
  for (std::size_t i = 0; i < registrations.size(); ++i) {
    enabled[i] = disabled.count(registrations[i]->uri()) == 0;
  }
  OrderWalk walk(registrations, enabled);
  for (std::size_t i = 0; i < registrations.size(); ++i) {
    if (!enabled[i]) continue;
    BERTH_RETURN_IF_ERROR(walk.Visit(i));
  }
  return walk.TakeOrder();
}

}  // namespace berth::host
