#include "json.h"

#include <cstdlib>

namespace berth::shim {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Result<Json> Document() {
    Json v;
    if (!Value(&v, 0)) return Error();
    Skip();
    if (pos_ != s_.size()) return Error();
    return v;
  }

 private:
  Status Error() const {
    return Status::InvalidArgument("invalid JSON at offset " + std::to_string(pos_));
  }
  void Skip() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) {
      ++pos_;
    }
  }
  bool Literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  static void AppendUtf8(unsigned cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  bool StringBody(std::string* out) {
    ++pos_;  // opening quote
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) return false;
      char e = s_[pos_++];
      switch (e) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          if (pos_ + 4 > s_.size()) return false;
          std::string hex(s_.substr(pos_, 4));
          char* end = nullptr;
          unsigned long cp = std::strtoul(hex.c_str(), &end, 16);
          if (end != hex.c_str() + 4) return false;
          pos_ += 4;
          AppendUtf8(static_cast<unsigned>(cp), out);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }
  bool Value(Json* out, int depth) {
    if (depth > 64) return false;
    Skip();
    if (pos_ >= s_.size()) return false;
    char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      *out = Json::Object();
      Skip();
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return true;
      }
      for (;;) {
        Skip();
        if (pos_ >= s_.size() || s_[pos_] != '"') return false;
        std::string key;
        if (!StringBody(&key)) return false;
        Skip();
        if (pos_ >= s_.size() || s_[pos_] != ':') return false;
        ++pos_;
        Json member;
        if (!Value(&member, depth + 1)) return false;
        out->Set(std::move(key), std::move(member));
        Skip();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == '}') {
          ++pos_;
          return true;
        }
        return false;
      }
    }
    if (c == '[') {
      ++pos_;
      *out = Json::Array();
      Skip();
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return true;
      }
      for (;;) {
        Json item;
        if (!Value(&item, depth + 1)) return false;
        out->Append(std::move(item));
        Skip();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == ']') {
          ++pos_;
          return true;
        }
        return false;
      }
    }
    if (c == '"') {
      std::string s;
      if (!StringBody(&s)) return false;
      *out = Json::String(std::move(s));
      return true;
    }
    if (Literal("true")) {
      *out = Json::Bool(true);
      return true;
    }
    if (Literal("false")) {
      *out = Json::Bool(false);
      return true;
    }
    if (Literal("null")) {
      *out = Json();
      return true;
    }
    size_t start = pos_;
    while (pos_ < s_.size() &&
           (std::string_view("+-.eE0123456789").find(s_[pos_]) != std::string_view::npos)) {
      ++pos_;
    }
    if (pos_ == start) return false;
    *out = Json::Number(std::string(s_.substr(start, pos_ - start)));
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

void SerializeTo(const Json& v, std::string* out) {
  switch (v.kind()) {
    case Json::Kind::kNull:
      *out += "null";
      break;
    case Json::Kind::kBool:
    case Json::Kind::kNumber:
      *out += v.text();
      break;
    case Json::Kind::kString:
      *out += JsonQuote(v.text());
      break;
    case Json::Kind::kArray: {
      out->push_back('[');
      bool first = true;
      for (const Json& item : v.items()) {
        if (!first) out->push_back(',');
        first = false;
        SerializeTo(item, out);
      }
      out->push_back(']');
      break;
    }
    case Json::Kind::kObject: {
      out->push_back('{');
      bool first = true;
      for (const auto& [key, member] : v.members()) {
        if (!first) out->push_back(',');
        first = false;
        *out += JsonQuote(key);
        out->push_back(':');
        SerializeTo(member, out);
      }
      out->push_back('}');
      break;
    }
  }
}

}  // namespace

Json Json::Bool(bool b) {
  Json v;
  v.kind_ = Kind::kBool;
  v.text_ = b ? "true" : "false";
  return v;
}
Json Json::Number(std::string text) {
  Json v;
  v.kind_ = Kind::kNumber;
  v.text_ = std::move(text);
  return v;
}
Json Json::String(std::string s) {
  Json v;
  v.kind_ = Kind::kString;
  v.text_ = std::move(s);
  return v;
}
Json Json::Array() {
  Json v;
  v.kind_ = Kind::kArray;
  return v;
}
Json Json::Object() {
  Json v;
  v.kind_ = Kind::kObject;
  return v;
}

Result<Json> Json::Parse(std::string_view text) { return Parser(text).Document(); }

std::string Json::Serialize() const {
  std::string out;
  SerializeTo(*this, &out);
  return out;
}

long long Json::integer() const {
  return kind_ == Kind::kNumber ? std::strtoll(text_.c_str(), nullptr, 10) : 0;
}

const Json* Json::Find(std::string_view key) const {
  for (const auto& [k, v] : members_) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Json::Set(std::string key, Json value) {
  for (auto& [k, v] : members_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  members_.emplace_back(std::move(key), std::move(value));
}

void Json::Append(Json value) { items_.push_back(std::move(value)); }

std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static const char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(kHex[(c >> 4) & 0xF]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace berth::shim
