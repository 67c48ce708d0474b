// Choice keys (util/choice.h): enums in code, names in YAML, one table for both.
#include "util/choice.h"

#include <gtest/gtest.h>

#include <sstream>

#include "util/config.h"
#include "util/errors.h"

namespace choice_test {

using namespace gptforge;

namespace {

// What code does with a choice: switch on the enum.
const char* describe(Position p) {
  switch (p) {
    case Position::Learned: return "a learned table";
    case Position::Sinusoidal: return "fixed sines";
    case Position::Rope: return "rotations";
    case Position::None: return "nothing";
  }
  return "?";
}

std::string config_error(const std::vector<std::string>& overrides) {
  try {
    load_config("", overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError";
  return "";
}

}  // namespace

TEST(Choice, NamesAndEnumsConvertBothWays) {
  Choice<Position> p = "rope";
  EXPECT_EQ(p.value(), Position::Rope);
  EXPECT_TRUE(p == Position::Rope);
  EXPECT_TRUE(p != Position::Learned);
  EXPECT_STREQ(describe(p), "rotations");
  EXPECT_STREQ(p.name(), "rope");
  p = Position::Sinusoidal;
  EXPECT_TRUE(p == "sinusoidal");
  EXPECT_TRUE(p == std::string("sinusoidal"));
  std::ostringstream os;
  os << p;
  EXPECT_EQ(os.str(), "sinusoidal");
  EXPECT_EQ("model.position=" + p, "model.position=sinusoidal");
  EXPECT_EQ(Choice<Position>::names(), (std::vector<std::string>{"learned", "sinusoidal", "rope", "none"}));
  EXPECT_TRUE(Choice<NormType>::known("rmsnorm"));
  EXPECT_FALSE(Choice<NormType>::known("RMSNorm"));
}

TEST(Choice, AnUnknownNameIsAConfigErrorListingTheKnownOnes) {
  try {
    Choice<Activation> a = "mish";
    ADD_FAILURE() << "accepted " << a;
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "'mish' is not one of gelu, relu, swiglu, relu2");
  }
}

TEST(Choice, ConfigKeysReadWriteAndDocumentTheirNames) {
  Config cfg = load_config("", {"model.family=custom", "model.position=rope", "train.precision=bf16",
                                "data.documents=line", "run.progress=off"});
  EXPECT_TRUE(cfg.model.position == Position::Rope);
  EXPECT_TRUE(cfg.train.precision == Precision::Bf16);
  EXPECT_TRUE(cfg.data.documents == DocumentMode::Line);
  EXPECT_TRUE(cfg.run.progress == ProgressMode::Off);
  // Written back as names, and read back to the same values.
  const std::string yaml = config_to_yaml(cfg);
  EXPECT_NE(yaml.find("position: \"rope\""), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("precision: \"bf16\""), std::string::npos) << yaml;
  // The schema lists every name of a choice key from its enum's table.
  const std::string schema = config_schema_text();
  EXPECT_NE(schema.find("position (string, default learned) learned | sinusoidal | rope | none"), std::string::npos);
  EXPECT_NE(schema.find("precision (string, default auto) auto | fp32 | bf16 | fp16"), std::string::npos);
  // The family preset switches on the enum too.
  Config llama = load_config("", {"model.family=llama"});
  EXPECT_TRUE(llama.model.norm == NormType::RmsNorm);
  EXPECT_TRUE(llama.model.activation == Activation::SwiGlu);
}

TEST(Choice, BadValuesOfAChoiceKeyNameTheKey) {
  EXPECT_NE(config_error({"train.schedule=exponential"}).find(
                "override 'train.schedule=exponential': train.schedule: 'exponential' is not one of cosine, linear, "
                "constant, wsd"),
            std::string::npos);
  EXPECT_NE(config_error({"model.norm=[layernorm]"}).find("model.norm: expected one of layernorm, rmsnorm, got a list"),
            std::string::npos);
}

}  // namespace choice_test
