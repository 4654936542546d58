#include "berth/identifiers.h"

#include <string>

namespace berth {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

Status ValidateIdentifier(std::string_view id) {
  if (id.empty()) return Status::InvalidArgument("identifier must not be empty");
  if (id.size() > kMaxIdentifierLength) {
    return Status::InvalidArgument("identifier \"" + std::string(id.substr(0, kMaxIdentifierLength)) +
                                   "...\" greater than maximum length (76 characters)");
  }
  bool after_separator = true;  // no separator may come first
  for (char c : id) {
    bool separator = c == '.' || c == '_' || c == '-';
    if (!IsAlnum(c) && !(separator && !after_separator)) {
      after_separator = true;
      break;
    }
    after_separator = separator;
  }
  if (after_separator) {
    return Status::InvalidArgument("identifier \"" + std::string(id) +
                                   "\" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$");
  }
  return Status::Ok();
}

}  // namespace berth
