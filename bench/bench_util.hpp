#pragma once
// Small helpers shared by the benchmark programs in bench/.
#include <sys/resource.h>

#include <sstream>
#include <string>
#include <vector>

namespace nsbench {

// Peak resident memory of this process so far, MB.
inline double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

// "a,b,c" -> {"a", "b", "c"}
inline std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(item);
  return v;
}

// "1,2,4" -> {1, 2, 4}
inline std::vector<int> parse_list(const std::string& s) {
  std::vector<int> v;
  for (const auto& item : split(s)) v.push_back(std::stoi(item));
  return v;
}

}  // namespace nsbench
