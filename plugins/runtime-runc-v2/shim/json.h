// A small JSON value for the few documents the shim reads and writes: runc's
// `ps --format json` output and log.json lines, the bundle's config.json
// annotations and namespaces, options.json, and an exec's process spec (read,
// "terminal" set, written back). Numbers keep their source text, so large
// integers (uids, limits) survive a round trip unchanged. Objects keep their
// key order. Not a general-purpose library: no \u surrogate pairing beyond
// what UTF-8 encoding of a BMP code point needs.
//
// Value type; thread-compatible.
#ifndef BERTH_SHIM_JSON_H_
#define BERTH_SHIM_JSON_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "berth/status.h"

namespace berth::shim {

class Json {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  Json() = default;
  static Json Bool(bool b);
  static Json Number(std::string text);
  static Json String(std::string s);
  static Json Array();
  static Json Object();

  // InvalidArgument naming the offset when `text` is no JSON document.
  static Result<Json> Parse(std::string_view text);
  std::string Serialize() const;

  Kind kind() const { return kind_; }
  bool is_object() const { return kind_ == Kind::kObject; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_string() const { return kind_ == Kind::kString; }
  // The string's text, the number's source text, "true"/"false"; "" otherwise.
  const std::string& text() const { return text_; }
  bool boolean() const { return kind_ == Kind::kBool && text_ == "true"; }
  long long integer() const;  // 0 when not a number

  // Object member lookup; null when absent or not an object.
  const Json* Find(std::string_view key) const;
  // Sets (or adds) an object member. REQUIRES: is_object().
  void Set(std::string key, Json value);
  void Append(Json value);  // REQUIRES: is_array()
  const std::vector<Json>& items() const { return items_; }
  const std::vector<std::pair<std::string, Json>>& members() const { return members_; }

 private:
  Kind kind_ = Kind::kNull;
  std::string text_;
  std::vector<Json> items_;
  std::vector<std::pair<std::string, Json>> members_;
};

// `s` as a quoted JSON string.
std::string JsonQuote(std::string_view s);

}  // namespace berth::shim

#endif  // BERTH_SHIM_JSON_H_
