#pragma once
// Error types shared by the host code. Every message names the file, the key and the value.
#include <stdexcept>
#include <string>

namespace ns {

// A bad sweep spec (or CLI input that plays the same role). Thrown before any work starts.
class SpecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A database file problem: missing, foreign, corrupt, incompatible, or refused (exists).
class DatabaseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace ns
