// Loading, validating and printing the schema declared in config.h.
#include "util/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "util/errors.h"
#include "util/files.h"
#include "util/strings.h"

namespace fs = std::filesystem;

namespace gptforge {
namespace {

// ---- Where a value came from, for error messages -------------------------------------------------

struct Source {
  std::string file;  // empty for command-line overrides
  std::string override_text;

  std::string at(const YAML::Node& node) const {
    if (file.empty()) return "override '" + override_text + "'";
    return file + ":" + std::to_string(node.Mark().line + 1);
  }
};

// ---- Type names and value parsing ----------------------------------------------------------------

template <class T>
const char* type_name();
template <>
const char* type_name<bool>() { return "bool"; }
template <>
const char* type_name<int64_t>() { return "int"; }
template <>
const char* type_name<double>() { return "float"; }
template <>
const char* type_name<std::string>() { return "string"; }
template <>
const char* type_name<std::vector<std::string>>() { return "list"; }

[[noreturn]] void type_error(const Source& src, const YAML::Node& node, const std::string& key, const char* expected) {
  std::string got = node.IsScalar()     ? "'" + node.Scalar() + "'"
                    : node.IsSequence() ? "a list"
                    : node.IsMap()      ? "a map"
                                        : "an empty value";
  throw ConfigError(src.at(node) + ": " + key + ": expected " + expected + ", got " + got);
}

void parse_value(const Source& src, const YAML::Node& node, const std::string& key, bool& out) {
  if (!node.IsScalar()) type_error(src, node, key, "true or false");
  std::string s = node.Scalar();
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  if (s == "true" || s == "yes" || s == "on") out = true;
  else if (s == "false" || s == "no" || s == "off") out = false;
  else type_error(src, node, key, "true or false");
}

bool parse_double(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  return end && *end == '\0' && errno == 0 && std::isfinite(out);
}

void parse_value(const Source& src, const YAML::Node& node, const std::string& key, int64_t& out) {
  if (!node.IsScalar()) type_error(src, node, key, "an integer");
  const std::string& s = node.Scalar();
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (!s.empty() && end && *end == '\0' && errno == 0) {
    out = v;
    return;
  }
  // Accept integral floats such as 1e6, a common way to write token budgets.
  double d;
  if (parse_double(s, d) && d == std::floor(d) && std::fabs(d) < 9.2e18) {
    out = static_cast<int64_t>(d);
    return;
  }
  type_error(src, node, key, "an integer");
}

void parse_value(const Source& src, const YAML::Node& node, const std::string& key, double& out) {
  if (!node.IsScalar() || !parse_double(node.Scalar(), out)) type_error(src, node, key, "a number");
}

void parse_value(const Source& src, const YAML::Node& node, const std::string& key, std::string& out) {
  if (node.IsNull()) {
    out.clear();
    return;
  }
  if (!node.IsScalar()) type_error(src, node, key, "a string");
  out = node.Scalar();
}

void parse_value(const Source& src, const YAML::Node& node, const std::string& key, std::vector<std::string>& out) {
  out.clear();
  if (node.IsNull()) return;
  if (node.IsScalar()) {  // one item may be written without brackets
    out.push_back(node.Scalar());
    return;
  }
  if (!node.IsSequence()) type_error(src, node, key, "a list of strings");
  for (const auto& item : node) {
    if (!item.IsScalar()) type_error(src, item, key, "a list of strings");
    out.push_back(item.Scalar());
  }
}

// ---- Constraint checks ---------------------------------------------------------------------------

std::string fmt_number(double v) {
  for (int prec = 6; prec <= 17; ++prec) {
    std::ostringstream os;
    os.precision(prec);
    os << v;
    if (std::stod(os.str()) == v) return os.str();
  }
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

// A choice key (util/choice.h): one of its enum's names.
template <class E>
void parse_value(const Source& src, const YAML::Node& node, const std::string& key, Choice<E>& out) {
  const std::string allowed = join(Choice<E>::names(), ", ");
  if (!node.IsScalar()) type_error(src, node, key, ("one of " + allowed).c_str());
  if (!Choice<E>::known(node.Scalar())) {
    throw ConfigError(src.at(node) + ": " + key + ": '" + node.Scalar() + "' is not one of " + allowed);
  }
  out = node.Scalar();
}

template <class T>
void check(const Source&, const YAML::Node&, const std::string&, const T&) {}

template <class T>
void check(const Source& src, const YAML::Node& node, const std::string& key, const T& value, const Range& r) {
  double v = static_cast<double>(value);
  if (v < r.min || v > r.max) {
    throw ConfigError(src.at(node) + ": " + key + ": " + fmt_number(v) + " is out of range [" + fmt_number(r.min) +
                      ", " + fmt_number(r.max) + "]");
  }
}

void check(const Source& src, const YAML::Node& node, const std::string& key, const std::vector<std::string>& value,
           const ItemChoices& c) {
  for (const auto& item : value) {
    if (std::find(c.values.begin(), c.values.end(), item) == c.values.end()) {
      throw ConfigError(src.at(node) + ": " + key + ": '" + item + "' is not one of " + join(c.values, ", "));
    }
  }
}

// ---- Visitors over the schema --------------------------------------------------------------------

// Sets one field by name from a YAML node.
struct FieldSetter {
  const std::string& name;
  const std::string& path;
  const YAML::Node& node;
  const Source& src;
  bool found = false;

  template <class T, class... C>
  void operator()(const char* field, T& ref, const char*, const C&... constraint) {
    if (found || name != field) return;
    found = true;
    T value = ref;
    parse_value(src, node, path, value);
    check(src, node, path, value, constraint...);
    ref = value;
  }
};

// Describes every field: its name, type, current value (as YAML text) and constraints.
struct FieldInfo {
  std::string name, type, value, allowed, description;
  std::function<bool()> is_empty;
};

std::string value_text(bool v) { return v ? "true" : "false"; }
std::string value_text(int64_t v) { return std::to_string(v); }
std::string value_text(double v) { return fmt_number(v); }
std::string value_text(const std::string& v) { return v.empty() ? "\"\"" : v; }
std::string value_text(const std::vector<std::string>& v) { return "[" + join(v, ", ") + "]"; }
template <class E>
std::string value_text(const Choice<E>& v) { return v.name(); }

std::string allowed_text() { return ""; }
std::string allowed_text(const Range& r) {
  return "[" + fmt_number(r.min) + ", " + fmt_number(r.max) + "]";
}
std::string allowed_text(const ItemChoices& c) { return "items: " + join(c.values, " | "); }
// What a field may hold: its constraint, or a choice key's names.
template <class T, class... C>
std::string allowed_of(const T&, const C&... constraint) { return allowed_text(constraint...); }
template <class E>
std::string allowed_of(const Choice<E>&) { return join(Choice<E>::names(), " | "); }

template <class T>
const char* type_name_of(const T&) { return type_name<T>(); }
template <class E>
const char* type_name_of(const Choice<E>&) { return "string"; }

template <class T>
bool empty_value(const T&) { return false; }
bool empty_value(const std::string& v) { return v.empty(); }
bool empty_value(const std::vector<std::string>& v) { return v.empty(); }

struct FieldLister {
  std::vector<FieldInfo> fields;
  template <class T, class... C>
  void operator()(const char* field, T& ref, const char* desc, const C&... constraint) {
    T* p = &ref;
    fields.push_back({field, type_name_of(ref), value_text(ref), allowed_of(ref, constraint...), desc,
                      [p] { return empty_value(*p); }});
  }
};

// Emits one section's fields as YAML.
struct FieldEmitter {
  YAML::Emitter& out;
  void emit(bool v) { out << v; }
  void emit(int64_t v) { out << v; }
  void emit(double v) { out << fmt_number(v); }
  void emit(const std::string& v) { out << YAML::DoubleQuoted << v; }
  template <class E>
  void emit(const Choice<E>& v) { out << YAML::DoubleQuoted << std::string(v.name()); }
  void emit(const std::vector<std::string>& v) {
    out << YAML::Flow << YAML::BeginSeq;
    for (const auto& s : v) out << YAML::DoubleQuoted << s;
    out << YAML::EndSeq;
  }
  template <class T, class... C>
  void operator()(const char* field, T& ref, const char*, const C&...) {
    out << YAML::Key << field << YAML::Value;
    emit(ref);
  }
};

// Calls visitor.section_(name, section, description) for each section (a named member template,
// since Config::sections calls `section`).
template <class Inner>
struct SectionAdapter {
  Inner& inner;
  template <class S>
  void section(const char* name, S& s, const char* desc) { inner.section_(name, s, desc); }
};

// Emits every section as a YAML map.
struct SectionEmitter {
  YAML::Emitter& out;
  template <class S>
  void section(const char* name, S& s, const char*) {
    out << YAML::Key << name << YAML::Value << YAML::BeginMap;
    FieldEmitter fe{out};
    s.fields(fe);
    out << YAML::EndMap;
  }
};

// Section-level visitors: hand each section's fields to a field visitor.
template <class FieldVisitor>
struct EachSection {
  std::function<void(const std::string&, const std::string&, std::function<void(FieldVisitor&)>)> fn;
  template <class S>
  void section(const char* name, S& s, const char* desc) {
    fn(name, desc, [&s](FieldVisitor& v) { s.fields(v); });
  }
};

std::vector<std::string> section_names() {
  std::vector<std::string> names;
  Config cfg;
  EachSection<FieldLister> each{[&](const std::string& name, const std::string&, auto) { names.push_back(name); }};
  cfg.sections(each);
  return names;
}

// Calls fn(section, fields-of-section) for every section of cfg.
void list_fields(Config& cfg, const std::function<void(const std::string&, const std::string&,
                                                       const std::vector<FieldInfo>&)>& fn) {
  EachSection<FieldLister> each{[&](const std::string& name, const std::string& desc, auto visit) {
    FieldLister lister;
    visit(lister);
    fn(name, desc, lister.fields);
  }};
  cfg.sections(each);
}

// Checks one section's values against their Range / ItemChoices, naming "section.key".
struct RangeChecker {
  const std::string& section;
  template <class T, class... C>
  void operator()(const char* field, T& ref, const char*, const C&... constraint) {
    check_value(section + "." + field, ref, constraint...);
  }
  template <class T>
  static void check_value(const std::string&, const T&) {}
  template <class T>
  static void check_value(const std::string& key, const T& value, const Range& r) {
    const double v = static_cast<double>(value);
    if (!(v >= r.min && v <= r.max)) {
      throw ConfigError(key + ": " + fmt_number(v) + " is out of range [" + fmt_number(r.min) + ", " +
                        fmt_number(r.max) + "]");
    }
  }
  static void check_value(const std::string& key, const std::vector<std::string>& items, const ItemChoices& c) {
    for (const auto& item : items) {
      if (std::find(c.values.begin(), c.values.end(), item) == c.values.end()) {
        throw ConfigError(key + ": '" + item + "' is not one of " + join(c.values, ", "));
      }
    }
  }
};

// ---- Suggestions for unknown keys ----------------------------------------------------------------

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string suggestion(const std::string& path, const std::vector<std::string>& candidates) {
  std::string leaf = path.substr(path.find('.') == std::string::npos ? 0 : path.find('.') + 1);
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& c : candidates) {
    std::string c_leaf = c.substr(c.find('.') == std::string::npos ? 0 : c.find('.') + 1);
    // A key put in the wrong section is as close as a typo in the right one.
    size_t d = std::min(edit_distance(path, c), edit_distance(leaf, c_leaf) + (c == path ? 0 : 1));
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  if (best.empty() || best_d > std::max<size_t>(2, leaf.size() / 3)) return "";
  return " (did you mean '" + best + "'?)";
}

// ---- Applying YAML documents ---------------------------------------------------------------------

// Hands one key to the section it names; records whether the section and the key exist.
struct KeyApplier {
  const std::string& section;
  const std::string& key;
  const std::string& path;
  const YAML::Node& value;
  const Source& src;
  bool section_found = false;
  bool found = false;
  template <class S>
  void section_(const char* name, S& s, const char*) {
    if (section != name) return;
    section_found = true;
    FieldSetter setter{key, path, value, src};
    s.fields(setter);
    found = setter.found;
  }
};

// Keys that were merged into another: the old name is refused, naming the new one.
const std::vector<std::pair<std::string, std::string>>& merged_keys() {
  static const std::vector<std::pair<std::string, std::string>> merged = {
      {"tokenizer.inputs", "data.inputs"},       {"tokenizer.format", "data.format"},
      {"tokenizer.jsonl_field", "data.jsonl_field"}, {"tokenizer.threads", "data.threads"},
      {"train.sample_prompt", "sample.prompt"},  {"train.sample_tokens", "sample.max_new_tokens"}};
  return merged;
}

void apply_key(Config& cfg, const std::string& section, const std::string& key, const YAML::Node& value,
               const Source& src, const YAML::Node& key_node) {
  const std::string path = section + "." + key;
  for (const auto& [old_key, new_key] : merged_keys()) {
    if (path == old_key) {
      throw ConfigError(src.at(key_node) + ": " + old_key + " is now " + new_key +
                        " (one key for what the two did; set " + new_key + " instead)");
    }
  }
  KeyApplier apply{section, key, path, value, src};
  SectionAdapter<KeyApplier> adapter{apply};
  cfg.sections(adapter);
  if (!apply.section_found) {
    auto names = section_names();
    throw ConfigError(src.at(key_node) + ": unknown section '" + section + "'" + suggestion(section, names) +
                      "; sections are " + join(names, ", "));
  }
  if (!apply.found) {
    throw ConfigError(src.at(key_node) + ": unknown key '" + path + "'" + suggestion(path, config_key_paths()));
  }
}

void apply_document(Config& cfg, const YAML::Node& doc, const Source& src) {
  for (const auto& sec : doc) {
    const std::string section = sec.first.Scalar();
    if (section == "base") continue;  // handled by the loader
    auto names = section_names();
    if (std::find(names.begin(), names.end(), section) == names.end()) {
      throw ConfigError(src.at(sec.first) + ": unknown section '" + section + "'" + suggestion(section, names) +
                        "; sections are " + join(names, ", "));
    }
    if (sec.second.IsNull()) continue;
    if (!sec.second.IsMap()) {
      throw ConfigError(src.at(sec.second) + ": '" + section + "' must be a map of keys");
    }
    for (const auto& kv : sec.second) {
      apply_key(cfg, section, kv.first.Scalar(), kv.second, src, kv.first);
    }
  }
}

struct Document {
  YAML::Node root;
  Source src;
};

// yaml-cpp keeps every pair of a map, and a lookup finds the first: a key written twice would
// silently take one of its values. Refuses the second, naming both lines.
void check_unique_keys(const std::string& path, const YAML::Node& node) {
  if (node.IsSequence()) {
    for (const auto& item : node) check_unique_keys(path, item);
  }
  if (!node.IsMap()) return;
  std::map<std::string, int> first_line;
  for (const auto& kv : node) {
    const int line = kv.first.Mark().line + 1;
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    auto [it, fresh] = first_line.emplace(key, line);
    if (!fresh) {
      throw ConfigError(path + ":" + std::to_string(line) + ": key '" + key + "' is already set at line " +
                        std::to_string(it->second) + " (each key once)");
    }
    check_unique_keys(path, kv.second);
  }
}

// The line where a second document starts: the first '---' after some content, or 0 when there is
// none. Scanned in the text, not counted in LoadAll's result: yaml-cpp 0.9 (Debian sid) drops an
// empty trailing document that 0.7 returns as a null node.
int second_document_line(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  bool content = false;
  for (int n = 1; std::getline(in, line); ++n) {
    const bool marker = line.rfind("---", 0) == 0 && (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
    if (marker && content) return n;
    const auto first = line.find_first_not_of(" \t\r");
    if (first != std::string::npos && line[first] != '#' && !marker) content = true;
  }
  return 0;
}

YAML::Node parse_yaml_file(const std::string& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (!fs::exists(status)) throw ConfigError(path + ": config file not found");
  if (fs::is_directory(status)) throw ConfigError(path + ": is a directory, not a config file");
  if (!fs::is_regular_file(status)) throw ConfigError(path + ": not a regular file (a config must be a YAML file)");
  try {
    const std::string text = read_file(path);
    std::vector<YAML::Node> docs = YAML::LoadAll(text);
    int second = second_document_line(text);
    if (docs.size() > 1 && second == 0) second = docs[1].Mark().line + 1;
    if (second > 0) {
      throw ConfigError(path + ":" + std::to_string(second) +
                        ": a second YAML document (a config is one document; it would be ignored)");
    }
    YAML::Node root = docs.empty() ? YAML::Node() : docs[0];
    if (root.IsNull()) return YAML::Node(YAML::NodeType::Map);
    check_unique_keys(path, root);
    if (!root.IsMap()) throw ConfigError(path + ":1: a config must be a map of sections");
    return root;
  } catch (const YAML::ParserException& e) {
    throw ConfigError(path + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  } catch (const YAML::BadFile&) {
    throw ConfigError(path + ": cannot read config file");
  } catch (const DataError& e) {
    throw ConfigError(e.what());
  }
}

// The file and its base chain, base first.
void collect_chain(const std::string& path, std::vector<Document>& chain, std::vector<std::string>& stack) {
  std::string canon = fs::weakly_canonical(path).string();
  if (std::find(stack.begin(), stack.end(), canon) != stack.end()) {
    throw ConfigError(path + ": config 'base' chain loops back to itself");
  }
  stack.push_back(canon);
  YAML::Node root = parse_yaml_file(path);
  if (root["base"]) {
    const YAML::Node base = root["base"];
    if (!base.IsScalar()) throw ConfigError(path + ":" + std::to_string(base.Mark().line + 1) + ": base must be a path");
    fs::path base_path = fs::path(base.Scalar());
    if (base_path.is_relative()) base_path = fs::path(path).parent_path() / base_path;
    if (!fs::exists(base_path)) {
      throw ConfigError(path + ":" + std::to_string(base.Mark().line + 1) + ": base config '" + base.Scalar() +
                        "' not found");
    }
    if (fs::is_directory(base_path)) {
      throw ConfigError(path + ":" + std::to_string(base.Mark().line + 1) + ": base config '" + base.Scalar() +
                        "' is a directory, not a config file");
    }
    collect_chain(base_path.string(), chain, stack);
  }
  chain.push_back({root, Source{path, ""}});
}

// An override "model.n_layer=4" as a one-key document.
Document parse_override(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError("override '" + text + "': expected key.path=value");
  }
  std::string path = text.substr(0, eq), value = text.substr(eq + 1);
  auto dot = path.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == path.size() || path.find('.', dot + 1) != std::string::npos) {
    throw ConfigError("override '" + text + "': key must be section.key" + suggestion(path, config_key_paths()));
  }
  YAML::Node parsed;
  try {
    parsed = value.empty() ? YAML::Node(YAML::NodeType::Null) : YAML::Load(value);
  } catch (const YAML::ParserException& e) {
    parsed = YAML::Node(value);  // not YAML: take it as a plain string
  }
  YAML::Node doc(YAML::NodeType::Map);
  doc[path.substr(0, dot)][path.substr(dot + 1)] = parsed;
  return {doc, Source{"", text}};
}

std::string family_in(const YAML::Node& root) {
  if (root["model"] && root["model"].IsMap() && root["model"]["family"] && root["model"]["family"].IsScalar()) {
    return root["model"]["family"].Scalar();
  }
  return "";
}

}  // namespace

// ---- Public API ----------------------------------------------------------------------------------

void apply_family_preset(ModelConfig& m) {
  switch (m.family) {
    case ModelFamily::Gpt2:
      m.position = Position::Learned;
      m.norm = NormType::LayerNorm;
      m.activation = Activation::Gelu;
      m.bias = true;
      m.tie_embeddings = true;
      break;
    case ModelFamily::Llama:
      m.position = Position::Rope;
      m.norm = NormType::RmsNorm;
      m.activation = Activation::SwiGlu;
      m.bias = false;
      m.tie_embeddings = false;
      break;
    case ModelFamily::Custom:
      break;
  }
}

std::vector<std::string> config_differences(const Config& a_in, const Config& b_in, const std::string& section) {
  Config a = a_in, b = b_in;
  std::vector<FieldInfo> fa, fb;
  list_fields(a, [&](const std::string& sec, const std::string&, const std::vector<FieldInfo>& f) {
    if (sec == section) fa = f;
  });
  list_fields(b, [&](const std::string& sec, const std::string&, const std::vector<FieldInfo>& f) {
    if (sec == section) fb = f;
  });
  std::vector<std::string> diffs;
  for (size_t i = 0; i < fa.size() && i < fb.size(); ++i) {
    if (fa[i].value != fb[i].value) diffs.push_back(section + "." + fa[i].name + ": " + fa[i].value + " vs " + fb[i].value);
  }
  return diffs;
}

std::vector<std::string> config_key_paths() {
  std::vector<std::string> paths;
  Config cfg;
  list_fields(cfg, [&](const std::string& sec, const std::string&, const std::vector<FieldInfo>& fields) {
    for (const auto& f : fields) paths.push_back(sec + "." + f.name);
  });
  return paths;
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::vector<Document> docs;
  if (!path.empty()) {
    std::vector<std::string> stack;
    collect_chain(path, docs, stack);
  }
  for (const auto& o : overrides) docs.push_back(parse_override(o));

  // The family preset goes first so that any style key written explicitly still wins over it.
  Config cfg;
  for (const auto& d : docs) {
    std::string family = family_in(d.root);
    if (!family.empty()) {
      apply_key(cfg, "model", "family", d.root["model"]["family"], d.src, d.root["model"]);
    }
  }
  apply_family_preset(cfg.model);
  for (const auto& d : docs) apply_document(cfg, d.root, d.src);
  validate_config(cfg);
  return cfg;
}

void validate_config(const Config& cfg) {
  const ModelConfig& m = cfg.model;
  auto fail = [](const std::string& msg) { throw ConfigError(msg); };
  if (m.d_model % m.n_head != 0) {
    fail("model.d_model (" + std::to_string(m.d_model) + ") must be divisible by model.n_head (" +
         std::to_string(m.n_head) + ")");
  }
  if (m.n_kv_head > m.n_head) {
    fail("model.n_kv_head (" + std::to_string(m.n_kv_head) + ") must not exceed model.n_head (" +
         std::to_string(m.n_head) + ")");
  }
  if (m.n_head % m.kv_heads() != 0) {
    fail("model.n_head (" + std::to_string(m.n_head) + ") must be divisible by model.n_kv_head (" +
         std::to_string(m.n_kv_head) + ")");
  }
  if (m.position == Position::Rope && m.head_dim() % 2 != 0) {
    fail("model.position=rope needs an even head size, but model.d_model / model.n_head = " +
         std::to_string(m.head_dim()));
  }
  if (m.position == Position::Sinusoidal && m.d_model % 2 != 0) {
    fail("model.position=sinusoidal needs an even model.d_model, got " + std::to_string(m.d_model));
  }
  const LoraConfig& lora = cfg.lora;
  if (lora.rank > 0) {
    if (lora.targets.empty()) fail("lora.targets is empty: name at least one layer (q, k, v, o or an MLP one)");
    const bool gated = m.activation == Activation::SwiGlu;
    for (const auto& target : lora.targets) {
      const bool mlp_plain = target == "fc" || target == "proj";
      const bool mlp_gated = target == "gate" || target == "up" || target == "down";
      if ((mlp_plain && gated) || (mlp_gated && !gated)) {
        fail("lora.targets: '" + target + "' is not a layer of a model.activation=" + m.activation +
             " model (its MLP has " + (gated ? "gate, up, down" : "fc, proj") + ")");
      }
    }
    if (lora.rank > m.d_model) {
      fail("lora.rank (" + std::to_string(lora.rank) + ") must not exceed model.d_model (" +
           std::to_string(m.d_model) + "): a larger rank is no longer low-rank");
    }
  }
  const TrainConfig& t = cfg.train;
  if (t.min_lr > t.learning_rate) {
    fail("train.min_lr (" + fmt_number(t.min_lr) + ") must not exceed train.learning_rate (" +
         fmt_number(t.learning_rate) + ")");
  }
  if (t.max_steps == 0 && t.max_tokens == 0 && t.max_minutes == 0) {
    fail("train: no stopping rule: set train.max_steps, train.max_tokens or train.max_minutes");
  }
}

void require_keys(const Config& cfg_in, const std::vector<std::string>& keys, const std::string& command) {
  Config cfg = cfg_in;
  list_fields(cfg, [&](const std::string& sec, const std::string&, const std::vector<FieldInfo>& fields) {
    for (const auto& f : fields) {
      std::string path = sec + "." + f.name;
      if (std::find(keys.begin(), keys.end(), path) != keys.end() && f.is_empty()) {
        throw ConfigError("missing required key " + path + " (needed by '" + command + "'): set it in the config or pass " +
                          path + "=...");
      }
    }
  });
}

void check_ranges(const SampleConfig& sample) {
  SampleConfig copy = sample;  // the schema's visitors take their fields by reference
  const std::string section = "sample";
  RangeChecker checker{section};
  copy.fields(checker);
}

std::string config_to_yaml(const Config& cfg_in) {
  Config cfg = cfg_in;
  YAML::Emitter out;
  out << YAML::BeginMap;
  SectionEmitter emit{out};
  cfg.sections(emit);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

void save_config(const Config& cfg, const std::string& path) {
  write_file_atomic(path, "# Resolved gptforge config (every key, defaults included)\n" + config_to_yaml(cfg));
}

std::string config_schema_text() {
  std::ostringstream os;
  Config defaults;
  list_fields(defaults, [&](const std::string& sec, const std::string& desc, const std::vector<FieldInfo>& fields) {
    os << sec << ":  # " << desc << "\n";
    for (const auto& f : fields) {
      os << "  " << f.name << " (" << f.type << ", default " << f.value << ")";
      if (!f.allowed.empty()) os << " " << f.allowed;
      os << "\n      " << f.description << "\n";
    }
  });
  os << "\nmodel.family presets: gpt2 = learned positions, layernorm, gelu, bias, tied embeddings;\n"
        "                      llama = rope, rmsnorm, swiglu, no bias, untied embeddings.\n"
        "A config may start with `base: other.yaml` (relative to itself) to extend another config.\n";
  return os.str();
}

}  // namespace gptforge
