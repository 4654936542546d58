// containerd's filter language: a scanner, a recursive-descent parser and the
// matching tree. Grammar:
//
//   selectors := selector ("," selector)*
//   selector  := fieldpath [operator value]
//   fieldpath := field ("." field)*
//   field     := quoted | [A-Za-z0-9_]+
//   operator  := "==" | "!=" | "~="
//   value     := quoted | [^\s,]+
//   quoted    := "..." (and /.../ or |...| after ~=), with Go's escapes
#include "berth/filters.h"

#include <cstdint>
#include <regex>
#include <utility>

namespace berth::filters {

class Filter::Node {
 public:
  virtual ~Node() = default;
  virtual bool Match(const Adaptor& adaptor) const = 0;
};

namespace {

enum class Operator { kPresent, kEqual, kNotEqual, kMatches };

class Selector final : public Filter::Node {
 public:
  Selector(std::vector<std::string> path, Operator op, std::string value,
           std::regex re)
      : path_(std::move(path)),
        op_(op),
        value_(std::move(value)),
        re_(std::move(re)) {}

  bool Match(const Adaptor& adaptor) const override {
    std::optional<std::string> found = adaptor(path_);
    switch (op_) {
      case Operator::kPresent:
        return found.has_value();
      case Operator::kEqual:
        return found.has_value() && *found == value_;
      case Operator::kNotEqual:  // an absent field reads as ""
        return found.value_or("") != value_;
      case Operator::kMatches:
        return std::regex_search(found.value_or(""), re_);
    }
    return false;
  }

 private:
  std::vector<std::string> path_;
  Operator op_;
  std::string value_;
  std::regex re_;  // kMatches only; const use is thread-safe
};

// All children match (one filter string) or any child matches (ParseAll).
class Combination final : public Filter::Node {
 public:
  Combination(bool all, std::vector<std::shared_ptr<const Node>> children)
      : all_(all), children_(std::move(children)) {}

  bool Match(const Adaptor& adaptor) const override {
    for (const auto& child : children_) {
      if (child->Match(adaptor) != all_) return !all_;
    }
    return all_;
  }

 private:
  bool all_;
  std::vector<std::shared_ptr<const Node>> children_;
};

enum class Tok { kEof, kQuoted, kValue, kField, kSeparator, kOperator, kIllegal, kOther };

struct Token {
  Tok kind = Tok::kEof;
  size_t pos = 0;
  std::string_view text;
};

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}
bool IsFieldChar(char c) {
  return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9');
}
bool IsOperatorChar(char c) { return c == '=' || c == '!' || c == '~'; }
bool IsQuoteChar(char c) { return c == '"' || c == '/' || c == '|'; }
bool IsValueChar(char c) {
  auto u = static_cast<unsigned char>(c);
  return c != ',' && !IsSpace(c) && (u > 0x20 && u != 0x7f);
}

class Scanner {
 public:
  explicit Scanner(std::string_view input) : in_(input) {}

  Token Peek() {
    Scanner saved = *this;
    Token t = Scan();
    *this = saved;
    return t;
  }

  Token Scan() {
    while (pos_ < in_.size() && IsSpace(in_[pos_])) ++pos_;
    size_t start = pos_;
    if (pos_ >= in_.size()) return {Tok::kEof, start, {}};
    char c = in_[pos_];
    if (c == '\0') {
      err_ = "unexpected null";
      return {Tok::kIllegal, start, in_.substr(start, 1)};
    }
    if (IsQuoteChar(c)) return ScanQuoted(start);
    if (c == ',' || c == '.') {
      value_mode_ = false;
      return Take(Tok::kSeparator, start, 1);
    }
    if (IsOperatorChar(c)) {
      value_mode_ = true;
      return Take(Tok::kOperator, start, Run(start, IsOperatorChar));
    }
    if (value_mode_) {
      value_mode_ = false;
      return Take(Tok::kValue, start, Run(start, IsValueChar));
    }
    if (IsFieldChar(c)) return Take(Tok::kField, start, Run(start, IsFieldChar));
    return Take(Tok::kOther, start, 1);
  }

  const std::string& error() const { return err_; }

 private:
  size_t Run(size_t start, bool (*accept)(char)) const {
    size_t end = start;
    while (end < in_.size() && accept(in_[end])) ++end;
    return end - start;
  }

  Token Take(Tok kind, size_t start, size_t len) {
    pos_ = start + len;
    return {kind, start, in_.substr(start, len)};
  }

  // Reads up to the closing quote; escapes are checked when unquoting.
  Token ScanQuoted(size_t start) {
    char quote = in_[start];
    size_t i = start + 1;
    while (i < in_.size() && in_[i] != quote && in_[i] != '\n') {
      i += (in_[i] == '\\' && i + 1 < in_.size() && in_[i + 1] != '\n') ? 2 : 1;
    }
    value_mode_ = false;
    if (i >= in_.size() || in_[i] != quote) {
      err_ = "quoted literal not terminated";
      return Take(Tok::kIllegal, start, i - start);
    }
    return Take(Tok::kQuoted, start, i + 1 - start);
  }

  std::string_view in_;
  size_t pos_ = 0;
  bool value_mode_ = false;  // the next bare word is a value
  std::string err_;
};

void AppendUtf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Reads `n` digits of `base` from s[i...]; false if fewer are there.
bool Digits(std::string_view s, size_t& i, int n, int base, std::uint32_t& v) {
  v = 0;
  for (int k = 0; k < n; ++k, ++i) {
    if (i >= s.size()) return false;
    char c = s[i];
    int d = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : 99;
    if (d >= base) return false;
    v = v * base + d;
  }
  return true;
}

// Go's string unquoting, with '/' and '|' quoting like '"'.
std::optional<std::string> Unquote(std::string_view q) {
  char quote = q.front();
  std::string_view s = q.substr(1, q.size() - 2);
  std::string out;
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c == quote || c == '\n') return std::nullopt;
    if (c != '\\') {
      out += c;
      ++i;
      continue;
    }
    if (++i >= s.size()) return std::nullopt;
    char e = s[i++];
    std::uint32_t v = 0;
    switch (e) {
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case '\\': out += '\\'; break;
      case 'x':
        if (!Digits(s, i, 2, 16, v)) return std::nullopt;
        out += static_cast<char>(v);
        break;
      case 'u':
      case 'U':
        if (!Digits(s, i, e == 'u' ? 4 : 8, 16, v) || v > 0x10FFFF) {
          return std::nullopt;
        }
        AppendUtf8(out, v);
        break;
      default:
        if (e >= '0' && e <= '7') {
          --i;
          if (!Digits(s, i, 3, 8, v) || v > 255) return std::nullopt;
          out += static_cast<char>(v);
        } else if (e == quote) {
          out += e;
        } else {
          return std::nullopt;
        }
    }
  }
  return out;
}

class Parser {
 public:
  explicit Parser(std::string_view input) : input_(input), scanner_(input) {}

  Result<std::shared_ptr<const Filter::Node>> ParseNode() {
    std::vector<std::shared_ptr<const Filter::Node>> selectors;
    while (true) {
      Result<std::shared_ptr<const Filter::Node>> s = ParseSelector();
      if (!s.ok()) return s.status();
      selectors.push_back(std::move(*s));
      Token t = scanner_.Peek();
      if (t.kind == Tok::kEof) break;
      if (t.kind != Tok::kSeparator || t.text != ",") {
        return Error(t.pos, "unexpected input: " + std::string(t.text));
      }
      scanner_.Scan();
    }
    return std::shared_ptr<const Filter::Node>(
        std::make_shared<Combination>(true, std::move(selectors)));
  }

 private:
  Result<std::shared_ptr<const Filter::Node>> ParseSelector() {
    std::vector<std::string> path;
    BERTH_RETURN_IF_ERROR(ParseFieldPath(path));
    Token next = scanner_.Peek();
    if (next.kind == Tok::kEof || next.kind == Tok::kSeparator) {
      return std::shared_ptr<const Filter::Node>(std::make_shared<Selector>(
          std::move(path), Operator::kPresent, "", std::regex()));
    }
    Operator op = Operator::kPresent;
    BERTH_RETURN_IF_ERROR(ParseOperator(op));
    std::string value;
    size_t value_pos = scanner_.Peek().pos;
    BERTH_RETURN_IF_ERROR(ParseValue(op == Operator::kMatches, value));
    std::regex re;
    if (op == Operator::kMatches) {
      try {
        re = std::regex(value, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return Error(value_pos, "invalid regular expression \"" + value +
                                    "\": " + e.what());
      }
    }
    return std::shared_ptr<const Filter::Node>(std::make_shared<Selector>(
        std::move(path), op, std::move(value), std::move(re)));
  }

  Status ParseFieldPath(std::vector<std::string>& path) {
    while (true) {
      Token t = scanner_.Scan();
      if (t.kind == Tok::kField) {
        path.emplace_back(t.text);
      } else if (t.kind == Tok::kQuoted) {
        std::string field;
        BERTH_RETURN_IF_ERROR(UnquoteToken(t, false, field));
        path.push_back(std::move(field));
      } else if (t.kind == Tok::kIllegal) {
        return Error(t.pos, scanner_.error());
      } else {
        return Error(t.pos, "expected field or quoted");
      }
      Token next = scanner_.Peek();
      if (next.kind != Tok::kSeparator || next.text != ".") return Status::Ok();
      scanner_.Scan();
    }
  }

  Status ParseOperator(Operator& op) {
    Token t = scanner_.Scan();
    if (t.kind == Tok::kIllegal) return Error(t.pos, scanner_.error());
    if (t.kind != Tok::kOperator) {
      return Error(t.pos, R"(expected an operator ("=="|"!="|"~="))");
    }
    if (t.text == "==") {
      op = Operator::kEqual;
    } else if (t.text == "!=") {
      op = Operator::kNotEqual;
    } else if (t.text == "~=") {
      op = Operator::kMatches;
    } else {
      return Error(t.pos, "unsupported operator \"" + std::string(t.text) + "\"");
    }
    return Status::Ok();
  }

  Status ParseValue(bool alt_quotes, std::string& value) {
    Token t = scanner_.Scan();
    switch (t.kind) {
      case Tok::kValue:
      case Tok::kField:
        value = std::string(t.text);
        return Status::Ok();
      case Tok::kQuoted:
        return UnquoteToken(t, alt_quotes, value);
      case Tok::kIllegal:
        return Error(t.pos, scanner_.error());
      default:
        return Error(t.pos, "expected value or quoted");
    }
  }

  Status UnquoteToken(const Token& t, bool alt_quotes, std::string& out) {
    if (!alt_quotes && t.text.front() != '"') {
      return Error(t.pos, "invalid quote encountered");
    }
    std::optional<std::string> unquoted = Unquote(t.text);
    if (!unquoted) return Error(t.pos, "unquoting failed: quote syntax error");
    out = std::move(*unquoted);
    return Status::Ok();
  }

  // `filters: parse error: [name== >|,|< x] at 6: expected value or quoted`
  Status Error(size_t pos, const std::string& message) const {
    std::string context;
    if (pos < input_.size()) {
      context = std::string(input_.substr(0, pos)) + " >|" + input_[pos] +
                "|< " + std::string(input_.substr(pos + 1));
    } else {
      context = std::string(input_);
    }
    return Status::InvalidArgument("filters: parse error: [" + context +
                                   "] at " + std::to_string(pos) + ": " +
                                   message);
  }

  std::string_view input_;
  Scanner scanner_;
};

}  // namespace

Filter::Filter() = default;

Filter::Filter(std::shared_ptr<const Node> root) : root_(std::move(root)) {}

bool Filter::Match(const Adaptor& adaptor) const {
  return root_ == nullptr || root_->Match(adaptor);
}

Result<Filter> Parse(std::string_view expr) {
  if (expr.empty()) return Filter();
  Result<std::shared_ptr<const Filter::Node>> root = Parser(expr).ParseNode();
  if (!root.ok()) return root.status();
  return Filter(std::move(*root));
}

Result<Filter> ParseAll(const std::vector<std::string>& exprs) {
  std::vector<std::shared_ptr<const Filter::Node>> alternatives;
  bool match_all = exprs.empty();
  for (const std::string& expr : exprs) {
    if (expr.empty()) {  // an empty filter matches everything
      match_all = true;
      continue;
    }
    Result<std::shared_ptr<const Filter::Node>> root = Parser(expr).ParseNode();
    if (!root.ok()) return root.status();
    alternatives.push_back(std::move(*root));
  }
  if (match_all) return Filter();
  return Filter(std::make_shared<Combination>(false, std::move(alternatives)));
}

}  // namespace berth::filters
