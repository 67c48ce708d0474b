#include "generate/calculator.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace gptforge {

namespace {

// A mistake in the expression or a limit reached: the message becomes the tool's result.
struct CalcError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Parser {
 public:
  Parser(const std::string& text, const CalculatorLimits& limits) : s_(text), lim_(limits) {}

  double parse() {
    skip_spaces();
    if (pos_ == s_.size()) throw CalcError("empty expression");
    const double v = expr();
    skip_spaces();
    if (pos_ != s_.size()) unexpected();
    return v;
  }

 private:
  double expr() {
    double v = term();
    for (;;) {
      skip_spaces();
      if (eat('+')) {
        v = checked(v + term());
      } else if (eat('-')) {
        v = checked(v - term());
      } else {
        return v;
      }
    }
  }

  double term() {
    double v = unary();
    for (;;) {
      skip_spaces();
      if (at("**")) return v;  // belongs to power(), never here: a ** right after a term is an error there
      if (eat('*')) {
        v = checked(v * unary());
      } else if (eat('/')) {
        const double d = unary();
        if (d == 0) throw CalcError("division by zero");
        v = checked(v / d);
      } else if (eat('%')) {
        const double d = unary();
        if (d == 0) throw CalcError("modulo by zero");
        double r = std::fmod(v, d);
        if (r != 0 && ((r < 0) != (d < 0))) r += d;  // Python's: the sign of the divisor
        v = checked(r);
      } else {
        return v;
      }
    }
  }

  double unary() {
    skip_spaces();
    if (eat('-')) return nested([&] { return -unary(); });
    if (eat('+')) return nested([&] { return unary(); });
    return power();
  }

  double power() {
    const double base = primary();
    skip_spaces();
    if (!at("**")) return base;
    pos_ += 2;
    const double e = unary();
    if (e != std::floor(e)) throw CalcError("the exponent of ** must be a whole number");
    if (std::fabs(e) > lim_.max_exponent) throw CalcError("exponent beyond " + std::to_string(lim_.max_exponent));
    if (base == 0 && e < 0) throw CalcError("division by zero (0 to a negative power)");
    return checked(std::pow(base, e));
  }

  double primary() {
    skip_spaces();
    if (eat('(')) {
      const double v = nested([&] { return expr(); });
      skip_spaces();
      if (!eat(')')) {
        if (pos_ == s_.size()) throw CalcError("missing ')'");
        unexpected();
      }
      return v;
    }
    return number();
  }

  double number() {
    const size_t start = pos_;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    }
    const std::string digits = s_.substr(start, pos_ - start);
    if (digits.empty() || digits == ".") {
      pos_ = start;
      if (pos_ == s_.size()) throw CalcError("expression ends where a number was expected");
      unexpected();
    }
    if (digits.size() > 32) throw CalcError("number '" + digits.substr(0, 20) + "...' is too long");
    return checked(std::stod(digits));
  }

  template <class F>
  double nested(F f) {
    if (++depth_ > lim_.max_depth) throw CalcError("nested deeper than " + std::to_string(lim_.max_depth));
    const double v = f();
    --depth_;
    return v;
  }

  double checked(double v) const {
    if (!std::isfinite(v) || std::fabs(v) > lim_.max_magnitude) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "result beyond %g in magnitude", lim_.max_magnitude);
      throw CalcError(buf);
    }
    return v == 0 ? 0.0 : v;  // no "-0"
  }

  [[noreturn]] void unexpected() const {
    throw CalcError("unexpected '" + std::string(1, s_[pos_]) + "' at position " + std::to_string(pos_ + 1));
  }

  void skip_spaces() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  bool at(const char* tok) const { return s_.compare(pos_, std::char_traits<char>::length(tok), tok) == 0; }
  bool eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  const std::string& s_;
  const CalculatorLimits& lim_;
  size_t pos_ = 0;
  int depth_ = 0;
};

std::string format_value(double v) {
  char buf[64];
  if (v == std::floor(v)) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.10f", v);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

}  // namespace

CalculatorResult calculate(const std::string& expression, const CalculatorLimits& limits) {
  if (expression.size() > limits.max_length) {
    return {false, "error: expression longer than " + std::to_string(limits.max_length) + " characters"};
  }
  try {
    return {true, format_value(Parser(expression, limits).parse())};
  } catch (const CalcError& e) {
    return {false, std::string("error: ") + e.what()};
  }
}

}  // namespace gptforge
