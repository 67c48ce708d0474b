// The calculator tool (sample.tools: [calc]): the arithmetic a model writes between <|tool_call|> and
// <|tool_end|>, evaluated by a small parser of our own (no shell, no code evaluation), so that the
// model can hand the digits to something that gets them right.
//
// Grammar (Python's precedence: ** binds tighter than a unary minus and groups to the right):
//   expr    := term (('+' | '-') term)*
//   term    := unary (('*' | '/' | '%') unary)*
//   unary   := ('+' | '-') unary | power
//   power   := primary ('**' unary)?
//   primary := number | '(' expr ')'            number: 12, 3.5, .5 (spaces anywhere between tokens)
//
// Values are doubles kept within ±1e15, where every integer is exact; `%` is Python's (the sign of
// the divisor), `/` is true division, `**` takes a whole exponent. Whole results print as integers
// ("56088"), others rounded to 10 decimals with trailing zeros cut ("0.3" for 0.1 + 0.2).
#pragma once
#include <string>

namespace gptforge {

// The limits that keep an expression cheap and its result exact.
struct CalculatorLimits {
  size_t max_length = 256;        // characters of the expression
  int max_depth = 32;             // nested parentheses and unary signs
  double max_magnitude = 1e15;    // |value| of every intermediate result
  int max_exponent = 64;          // |exponent| of **
};

struct CalculatorResult {
  bool ok = false;
  std::string text;  // the value, or "error: ..." naming what is wrong (what the model is shown)
};

CalculatorResult calculate(const std::string& expression, const CalculatorLimits& limits = {});

}  // namespace gptforge
