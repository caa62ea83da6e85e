#pragma once
// Reading user JSON (sweep specs, NEST/BMTK dynamics_params files, `simulate --params` files) with
// bounds, so that no input can crash the program or exhaust its memory: a file is read only up to
// kMaxJsonBytes, nesting deeper than kMaxJsonDepth is refused while parsing (before a deep value is
// built), and every error is a SpecError naming the file, the line and column or the key path.
#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

namespace ns {

constexpr std::size_t kMaxJsonBytes = 64u << 20;  // 64 MiB: a spec listing 10^6 points fits
constexpr int kMaxJsonDepth = 64;                 // the deepest example spec nests 5 levels

// The whole content of a regular file (or a pipe) of at most max_bytes. `what` names the role of the
// file in messages ("sweep spec", "parameter_file"). Refuses a missing path, a directory and a file
// larger than max_bytes (read stops after max_bytes + 1 bytes: /dev/zero is refused, not read).
std::string read_text_file(const std::string& path, const std::string& what,
                           std::size_t max_bytes = kMaxJsonBytes);

// Parses JSON text (comments allowed). Refuses, naming `source` and the place: syntax errors
// (source:line:col), nesting deeper than kMaxJsonDepth, duplicate keys in one object, numbers that
// overflow a double (1e999, a 5,000-digit integer) (both by key path).
nlohmann::json parse_json_text(const std::string& text, const std::string& source);

// read_text_file + parse_json_text.
nlohmann::json load_json_file(const std::string& path, const std::string& what);

}  // namespace ns
