#include "generate/calculator.h"

#include <gtest/gtest.h>

#include <random>

namespace calculator_test {

using namespace gptforge;

namespace {

std::string value(const std::string& e) {
  const CalculatorResult r = calculate(e);
  EXPECT_TRUE(r.ok) << e << " -> " << r.text;
  return r.text;
}

std::string error(const std::string& e) {
  const CalculatorResult r = calculate(e);
  EXPECT_FALSE(r.ok) << e << " -> " << r.text;
  EXPECT_EQ(r.text.rfind("error: ", 0), 0u) << r.text;
  return r.text;
}

}  // namespace

TEST(Calculator, PythonPrecedenceAndAssociativity) {
  EXPECT_EQ(value("1 + 2 * 3"), "7");
  EXPECT_EQ(value("(1 + 2) * 3"), "9");
  EXPECT_EQ(value("10 - 4 - 3"), "3");        // left to right
  EXPECT_EQ(value("2 ** 3 ** 2"), "512");     // right to left
  EXPECT_EQ(value("-2 ** 2"), "-4");          // ** binds tighter than the sign
  EXPECT_EQ(value("2 ** -1"), "0.5");
  EXPECT_EQ(value("--3"), "3");
  EXPECT_EQ(value("+4 - -4"), "8");
  EXPECT_EQ(value("  ( ( 7 ) )  "), "7");
  EXPECT_EQ(value("100 / 8"), "12.5");        // true division
  EXPECT_EQ(value("-7 % 3"), "2");            // the sign of the divisor, as Python
  EXPECT_EQ(value("7 % -3"), "-2");
  EXPECT_EQ(value("7.5 % 2"), "1.5");
}

TEST(Calculator, DecimalsPrintRoundedAndIntegersExactly) {
  EXPECT_EQ(value("0.1 + 0.2"), "0.3");
  EXPECT_EQ(value("1 / 3"), "0.3333333333");
  EXPECT_EQ(value(".5 * 4"), "2");
  EXPECT_EQ(value("3.25 - 3.25"), "0");
  EXPECT_EQ(value("-0.5 * 0"), "0");          // never "-0"
  EXPECT_EQ(value("999999 * 999999"), "999998000001");
  EXPECT_EQ(value("2 ** 49"), "562949953421312");
}

TEST(Calculator, AgreesWithIntegerArithmeticOnRandomMultiDigitProblems) {
  // The task suite's problems: two- and three-digit +, -, *; every integer below 1e15 is exact.
  std::mt19937_64 rng(23);
  std::uniform_int_distribution<long long> digits(0, 999);
  for (int i = 0; i < 3000; ++i) {
    const long long a = digits(rng), b = digits(rng);
    const char op = "+-*"[i % 3];
    const long long want = op == '+' ? a + b : op == '-' ? a - b : a * b;
    EXPECT_EQ(value(std::to_string(a) + " " + op + " " + std::to_string(b)), std::to_string(want));
  }
}

TEST(Calculator, BadExpressionsGiveAnErrorResultNamingTheProblem) {
  EXPECT_EQ(error(""), "error: empty expression");
  EXPECT_EQ(error("   "), "error: empty expression");
  EXPECT_EQ(error("1 / 0"), "error: division by zero");
  EXPECT_EQ(error("5 % (2 - 2)"), "error: modulo by zero");
  EXPECT_EQ(error("0 ** -1"), "error: division by zero (0 to a negative power)");
  EXPECT_EQ(error("2 +"), "error: expression ends where a number was expected");
  EXPECT_EQ(error("(1 + 2"), "error: missing ')'");
  EXPECT_EQ(error("1 + 2)"), "error: unexpected ')' at position 6");
  EXPECT_EQ(error("2 x 3"), "error: unexpected 'x' at position 3");
  EXPECT_EQ(error("import os"), "error: unexpected 'i' at position 1");
  EXPECT_EQ(error("1..2"), "error: unexpected '.' at position 3");
  EXPECT_EQ(error("2 ** 0.5"), "error: the exponent of ** must be a whole number");
  EXPECT_EQ(error("2 * * 3"), "error: unexpected '*' at position 5");
}

TEST(Calculator, LimitsKeepEveryResultExactAndEveryInputCheap) {
  EXPECT_EQ(error("10 ** 16"), "error: result beyond 1e+15 in magnitude");
  EXPECT_EQ(error("99999999 * 99999999"), "error: result beyond 1e+15 in magnitude");
  EXPECT_EQ(error("2 ** 65"), "error: exponent beyond 64");
  EXPECT_EQ(error(std::string(300, '1')), "error: expression longer than 256 characters");
  EXPECT_EQ(error(std::string(40, '(') + "1" + std::string(40, ')')), "error: nested deeper than 32");
  EXPECT_EQ(error(std::string(40, '-') + "1"), "error: nested deeper than 32");
  EXPECT_EQ(value(std::string(30, '(') + "1" + std::string(30, ')')), "1");
  CalculatorLimits tight;
  tight.max_magnitude = 100;
  EXPECT_EQ(calculate("50 + 50", tight).text, "100");
  EXPECT_EQ(calculate("50 + 51", tight).text, "error: result beyond 100 in magnitude");
}

}  // namespace calculator_test
