// Checked access to a node's attributes (pyprune/graph/operator.h).
#include <cmath>
#include <stdexcept>

#include "pyprune/graph/operator.h"
#include "pyprune/shape.h"

namespace pyprune::graph {

size_t elements(const Dims& dims) {
  size_t n = 1;
  for (size_t d : dims) n = checked_mul(n, d, "a tensor");
  checked_mul(n, sizeof(float), "a tensor");
  return n;
}

std::string to_string(const Dims& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); i++) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

Attributes::Attributes(std::string node, std::map<std::string, AttributeValue> values)
    : node_(std::move(node)), values_(std::move(values)) {}

void Attributes::fail(const std::string& what) const { throw std::invalid_argument(node_ + ": " + what); }

const AttributeValue* Attributes::find(const char* name) const {
  const auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

namespace {

std::string range(int64_t lo, int64_t hi) { return "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]"; }

}  // namespace

int64_t Attributes::integer(const char* name, int64_t lo, int64_t hi) const {
  const AttributeValue* v = find(name);
  if (v == nullptr) fail(std::string("attribute '") + name + "' is required");
  const int64_t* i = std::get_if<int64_t>(v);
  if (i == nullptr) fail(std::string("attribute '") + name + "' must be an integer");
  if (*i < lo || *i > hi)
    fail(std::string("attribute '") + name + "' must be in " + range(lo, hi) + ", got " + std::to_string(*i));
  return *i;
}

int64_t Attributes::integer(const char* name, int64_t lo, int64_t hi, int64_t fallback) const {
  return has(name) ? integer(name, lo, hi) : fallback;
}

double Attributes::real(const char* name, double lo, double hi, double fallback) const {
  const AttributeValue* v = find(name);
  if (v == nullptr) return fallback;
  double value;
  if (const int64_t* i = std::get_if<int64_t>(v)) {
    value = static_cast<double>(*i);
  } else if (const double* d = std::get_if<double>(v)) {
    value = *d;
  } else {
    fail(std::string("attribute '") + name + "' must be a number");
  }
  // NaN fails both comparisons: it is refused with the range.
  if (!(value >= lo && value <= hi))
    fail(std::string("attribute '") + name + "' must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
         "], got " + std::to_string(value));
  return value;
}

std::vector<int64_t> Attributes::integers(const char* name, size_t count, int64_t lo, int64_t hi,
                                          std::vector<int64_t> fallback) const {
  if (!has(name) && !fallback.empty()) return fallback;
  const std::vector<int64_t> values = integer_list(name, count, count, lo, hi);
  return values;
}

std::vector<int64_t> Attributes::integer_list(const char* name, size_t min_count, size_t max_count, int64_t lo,
                                              int64_t hi) const {
  const AttributeValue* v = find(name);
  if (v == nullptr) fail(std::string("attribute '") + name + "' is required");
  const auto* list = std::get_if<std::vector<int64_t>>(v);
  // An empty list arrives as whichever list type: accept it where integers are asked for.
  const auto* empty = std::get_if<std::vector<double>>(v);
  if (list == nullptr && !(empty != nullptr && empty->empty()))
    fail(std::string("attribute '") + name + "' must be a list of integers");
  const std::vector<int64_t> values = list != nullptr ? *list : std::vector<int64_t>{};
  if (values.size() < min_count || values.size() > max_count)
    fail(std::string("attribute '") + name + "' must have " +
         (min_count == max_count ? std::to_string(min_count) : std::to_string(min_count) + " to " +
                                                                   std::to_string(max_count)) +
         " entries, got " + std::to_string(values.size()));
  for (int64_t x : values)
    if (x < lo || x > hi)
      fail(std::string("attribute '") + name + "' entries must be in " + range(lo, hi) + ", got " + std::to_string(x));
  return values;
}

std::vector<double> Attributes::real_list(const char* name, size_t count, double lo, double hi,
                                          std::vector<double> fallback) const {
  const AttributeValue* v = find(name);
  if (v == nullptr) {
    if (!fallback.empty()) return fallback;
    fail(std::string("attribute '") + name + "' is required");
  }
  std::vector<double> values;
  if (const auto* reals = std::get_if<std::vector<double>>(v)) {
    values = *reals;
  } else if (const auto* ints = std::get_if<std::vector<int64_t>>(v)) {
    values.assign(ints->begin(), ints->end());
  } else {
    fail(std::string("attribute '") + name + "' must be a list of numbers");
  }
  if (values.size() != count)
    fail(std::string("attribute '") + name + "' must have " + std::to_string(count) + " entries, got " +
         std::to_string(values.size()));
  for (double x : values)
    if (!(x >= lo && x <= hi))
      fail(std::string("attribute '") + name + "' entries must be in [" + std::to_string(lo) + ", " +
           std::to_string(hi) + "], got " + std::to_string(x));
  return values;
}

std::string Attributes::text(const char* name, const std::vector<std::string>& allowed, const char* fallback) const {
  const AttributeValue* v = find(name);
  if (v == nullptr) {
    if (fallback != nullptr) return fallback;
    fail(std::string("attribute '") + name + "' is required");
  }
  const auto* s = std::get_if<std::string>(v);
  if (s == nullptr) fail(std::string("attribute '") + name + "' must be a string");
  for (const std::string& a : allowed)
    if (*s == a) return *s;
  std::string choices;
  for (const std::string& a : allowed) choices += (choices.empty() ? "" : ", ") + a;
  fail(std::string("attribute '") + name + "' must be one of " + choices + ", got '" + *s + "'");
}

void Attributes::only(const std::vector<std::string>& known) const {
  for (const auto& [name, value] : values_) {
    bool found = false;
    for (const std::string& k : known) found = found || k == name;
    if (!found) fail("unknown attribute '" + name + "'");
  }
}

}  // namespace pyprune::graph
