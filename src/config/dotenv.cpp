#include "kagura/config/dotenv.hpp"

#include <cctype>
#include <fstream>
#include <sstream>

#include "config/text.hpp"

// No Debian package parses .env files, and the format is small; this parser is ours so that
// its errors can name the file and line.

namespace kagura::config {
namespace {

bool valid_key(std::string_view key) {
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key.front()))) return false;
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

[[noreturn]] void fail(std::string_view source, int line, const std::string& problem) {
  throw ConfigError(std::string(source) + ":" + std::to_string(line) + ": " + problem);
}

}  // namespace

DotenvValues parse_dotenv(std::string_view text, std::string_view source) {
  DotenvValues values;
  int line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const auto newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = trim_whitespace(line);
    if (line.empty() || line.front() == '#') continue;
    if (line.starts_with("export ")) line = trim_whitespace(line.substr(7));

    const auto equals = line.find('=');
    if (equals == std::string_view::npos) {
      fail(source, line_number,
           "expected KEY=VALUE, got '" + std::string(line) +
               "'; comment it out with '#' or "
               "add '='");
    }
    const std::string_view key = trim_whitespace(line.substr(0, equals));
    if (!valid_key(key)) {
      fail(source, line_number,
           "'" + std::string(key) +
               "' is not a valid variable name; use letters, digits "
               "and '_', not starting with a digit");
    }
    std::string_view raw = trim_whitespace(line.substr(equals + 1));
    std::string value;
    if (!raw.empty() && (raw.front() == '"' || raw.front() == '\'')) {
      const char quote = raw.front();
      std::size_t i = 1;
      bool closed = false;
      for (; i < raw.size(); ++i) {
        const char c = raw[i];
        if (c == quote) {
          closed = true;
          break;
        }
        if (quote == '"' && c == '\\' && i + 1 < raw.size()) {
          const char next = raw[++i];
          switch (next) {
            case 'n':
              value.push_back('\n');
              break;
            case 't':
              value.push_back('\t');
              break;
            case '\\':
            case '"':
              value.push_back(next);
              break;
            default:
              value.push_back('\\');
              value.push_back(next);
          }
          continue;
        }
        value.push_back(c);
      }
      if (!closed) {
        fail(source, line_number,
             "the value of " + std::string(key) + " opens a " +
                 (quote == '"' ? "double" : "single") +
                 " quote that is never closed; add the "
                 "closing quote (values cannot span lines)");
      }
      const std::string_view rest = trim_whitespace(raw.substr(i + 1));
      if (!rest.empty() && rest.front() != '#') {
        fail(source, line_number,
             "unexpected text after the quoted value of " + std::string(key) + ": '" +
                 std::string(rest) + "'");
      }
    } else {
      // Searched before trimming, so that "KEY= # note" is an empty value and not "# note".
      const std::string_view after_equals = line.substr(equals + 1);
      if (const auto comment = after_equals.find(" #"); comment != std::string_view::npos) {
        raw = trim_whitespace(after_equals.substr(0, comment));
      }
      value = std::string(raw);
    }
    values[std::string(key)] = std::move(value);
  }
  return values;
}

DotenvValues load_dotenv_file(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return {};
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError("cannot read " + path.string() +
                      ": check its permissions, or remove it and run 'kagura init'");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_dotenv(text.str(), path.string());
}

}  // namespace kagura::config
