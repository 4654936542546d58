#include "services/grpc_status.h"

#include <cctype>

namespace berth::host {

Status ValidateIdentifier(const std::string& s) {
  if (s.empty()) return Status::InvalidArgument("identifier must not be empty");
  if (s.size() > 76) {
    return Status::InvalidArgument("identifier \"" + s.substr(0, 76) +
                                   "...\" greater than maximum length (76 characters)");
  }
  bool prev_sep = true;  // no separator first
  for (char c : s) {
    bool alnum = std::isalnum(static_cast<unsigned char>(c)) != 0;
    bool sep = c == '.' || c == '_' || c == '-';
    if (!alnum && !(sep && !prev_sep)) {
      return Status::InvalidArgument("identifier \"" + s +
                                     "\" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$");
    }
    prev_sep = sep;
  }
  if (prev_sep) {
    return Status::InvalidArgument("identifier \"" + s +
                                   "\" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$");
  }
  return Status::Ok();
}

namespace {
std::string MetadataValue(const grpc::ServerContextBase& context, const char* key) {
  const auto& md = context.client_metadata();
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}
}  // namespace

Result<std::string> NamespaceOf(const grpc::ServerContextBase& context) {
  std::string ns = MetadataValue(context, grpc_util::kNamespaceHeader);
  if (ns.empty()) {
    return Status::InvalidArgument("namespace is required");
  }
  if (Status s = ValidateIdentifier(ns); !s.ok()) {
    return s.Annotate("namespace");
  }
  return ns;
}

std::string LeaseOf(const grpc::ServerContextBase& context) {
  return MetadataValue(context, grpc_util::kLeaseHeader);
}

}  // namespace berth::host
