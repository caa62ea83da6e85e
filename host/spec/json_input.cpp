// Bounded reading of user JSON (json_input.hpp).
#include "spec/json_input.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include "errors.hpp"

namespace ns {
namespace {

using json = nlohmann::json;

// One open object or array while parsing: the key or index being read, the keys seen.
struct Frame {
  bool obj;
  std::string key;
  long idx = -1;
  std::set<std::string> seen;
};

// "a.b[2].c": the key path of the value being parsed.
std::string frames_path(const std::vector<Frame>& st) {
  std::string p;
  for (const auto& f : st) {
    if (f.obj)
      p += (p.empty() ? "" : ".") + f.key;
    else
      p += "[" + std::to_string(f.idx < 0 ? 0 : f.idx) + "]";
  }
  return p;
}

std::string line_col(const std::string& text, std::size_t byte) {
  std::size_t idx = byte > 0 ? byte - 1 : 0;
  if (idx > text.size()) idx = text.size();
  std::size_t line = 1, col = 1;
  for (std::size_t k = 0; k < idx; ++k) {
    if (text[k] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

}  // namespace

std::string read_text_file(const std::string& path, const std::string& what, std::size_t max_bytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw SpecError(path + ": the " + what + " is a directory, not a file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw SpecError(path + ": cannot open the " + what + ": " + std::strerror(errno));
  std::string text;
  char buf[1 << 16];
  while (f) {
    f.read(buf, sizeof buf);
    text.append(buf, static_cast<std::size_t>(f.gcount()));
    if (text.size() > max_bytes)
      throw SpecError(path + ": the " + what + " is larger than " + std::to_string(max_bytes >> 20) +
                      " MiB; refusing to read it (is this the right file?)");
  }
  if (f.bad()) throw SpecError(path + ": cannot read the " + what + ": " + std::strerror(errno));
  return text;
}

json parse_json_text(const std::string& text, const std::string& source) {
  std::vector<Frame> st;
  auto fail = [&](const std::string& msg) -> void {
    const std::string p = frames_path(st);
    throw SpecError(source + ": " + (p.empty() ? std::string("(top level)") : p) + ": " + msg);
  };
  json::parser_callback_t cb = [&](int /*depth*/, json::parse_event_t ev, json& parsed) -> bool {
    using E = json::parse_event_t;
    switch (ev) {
      case E::object_start:
      case E::array_start:
        if (!st.empty() && !st.back().obj) ++st.back().idx;
        if (st.size() >= static_cast<std::size_t>(kMaxJsonDepth))
          fail("nested deeper than " + std::to_string(kMaxJsonDepth) +
               " levels; a sweep spec needs a handful (is this the right file?)");
        st.push_back(Frame{ev == E::object_start, "", -1, {}});
        break;
      case E::key: {
        const std::string k = parsed.get<std::string>();
        Frame& f = st.back();
        f.key = k;
        if (!f.seen.insert(k).second) fail("duplicate key \"" + k + "\"; expected each key once per object");
        break;
      }
      case E::value:
        if (!st.empty() && !st.back().obj) ++st.back().idx;
        break;
      case E::object_end:
      case E::array_end:
        if (!st.empty()) st.pop_back();
        break;
    }
    return true;
  };
  try {
    return json::parse(text, cb, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    const auto pos = what.find("syntax error");
    if (pos != std::string::npos) what = what.substr(pos);
    throw SpecError(source + ":" + line_col(text, e.byte) + ": JSON syntax error: " + what);
  } catch (const json::out_of_range& e) {
    // 406: a number that does not fit a double. It is the value after the current key, or the
    // next element of the current array (whose index the value event has not advanced yet).
    if (!st.empty() && !st.back().obj) ++st.back().idx;
    std::string what = e.what();
    const auto q = what.find('\'');
    std::string num = q == std::string::npos ? "" : what.substr(q + 1, what.size() - q - 2);
    if (num.size() > 24) num = num.substr(0, 12) + "..." + num.substr(num.size() - 6) + " (" +
                               std::to_string(num.size()) + " characters)";
    fail("the number " + num + " overflows (a double holds at most about 1.8e308)");
  }
  return json();  // not reached
}

json load_json_file(const std::string& path, const std::string& what) {
  return parse_json_text(read_text_file(path, what), path);
}

}  // namespace ns
