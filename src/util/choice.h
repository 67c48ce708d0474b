// A config value that is one of a fixed set of names: an enum in code, its name at the boundary.
//
// The YAML loader, `config show` and `config schema` read and write the names; the code that acts on a
// value switches on the enum (`switch (cfg.model.position)`, `cfg.norm == Norm::RmsNorm`), so that a
// misspelt comparison is a compile error and a new choice is a warning in every switch that misses it.
// The names live in one table per enum, a specialisation of ChoiceNames:
//
//   enum class Position { Learned, Sinusoidal, Rope, None };
//   template <> struct ChoiceNames<Position> {
//     static constexpr std::pair<Position, const char*> table[] = {{Position::Learned, "learned"}, ...};
//   };
//
// Assigning a name that is not in the table throws ConfigError naming the allowed ones. Comparing with
// a name (`position == "rope"`) and printing give the name, for messages and tests.
#pragma once
#include <cstring>
#include <iterator>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "util/errors.h"

namespace gptforge {

template <class E>
struct ChoiceNames;  // specialise with `static constexpr std::pair<E, const char*> table[]`

template <class E>
class Choice {
 public:
  using Enum = E;

  Choice(E value) : value_(value) {}  // NOLINT: an enum value is a choice
  Choice(const char* name) : value_(parse(name)) {}
  Choice(const std::string& name) : value_(parse(name.c_str())) {}
  // User-provided (not trivial) on purpose: passing a Choice to printf's `...` is then a compile
  // error instead of garbage; print name().
  Choice(const Choice& other) : value_(other.value_) {}
  Choice& operator=(const Choice& other) {
    value_ = other.value_;
    return *this;
  }

  operator E() const { return value_; }  // switch and compare on the enum
  E value() const { return value_; }
  const char* name() const { return name_of(value_); }

  // The allowed names, in the table's order.
  static std::vector<std::string> names() {
    std::vector<std::string> out;
    for (const auto& [value, name] : ChoiceNames<E>::table) out.emplace_back(name);
    return out;
  }
  // Whether `name` is one of them.
  static bool known(const std::string& name) {
    for (const auto& entry : ChoiceNames<E>::table) {
      if (name == entry.second) return true;
    }
    return false;
  }
  static const char* name_of(E value) {
    for (const auto& [v, name] : ChoiceNames<E>::table) {
      if (v == value) return name;
    }
    return "?";
  }

  friend bool operator==(const Choice& a, const Choice& b) { return a.value_ == b.value_; }
  friend bool operator!=(const Choice& a, const Choice& b) { return a.value_ != b.value_; }
  friend bool operator==(const Choice& a, E b) { return a.value_ == b; }
  friend bool operator!=(const Choice& a, E b) { return a.value_ != b; }
  friend bool operator==(const Choice& a, const char* b) { return std::strcmp(a.name(), b) == 0; }
  friend bool operator!=(const Choice& a, const char* b) { return !(a == b); }
  friend bool operator==(const Choice& a, const std::string& b) { return b == a.name(); }
  friend bool operator!=(const Choice& a, const std::string& b) { return !(a == b); }
  friend std::ostream& operator<<(std::ostream& os, const Choice& c) { return os << c.name(); }
  friend std::string operator+(const std::string& s, const Choice& c) { return s + c.name(); }
  friend std::string operator+(const Choice& c, const std::string& s) { return c.name() + s; }

 private:
  static E parse(const char* name) {
    for (const auto& [value, n] : ChoiceNames<E>::table) {
      if (std::strcmp(name, n) == 0) return value;
    }
    std::string allowed;
    for (const auto& n : names()) allowed += (allowed.empty() ? "" : ", ") + n;
    throw ConfigError("'" + std::string(name) + "' is not one of " + allowed);
  }

  E value_;
};

}  // namespace gptforge
