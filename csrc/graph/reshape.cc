// reshape: input 0's floats with another shape, a view (the graph copies nothing). Entries of
// the `shape` attribute: a size >= 1, -1 (inferred from the others, at most one), or -(2 + i),
// dim i of the input, so that a graph captured with a dynamic batch reshapes any batch; with
// `like_dims`, entry i is dim like_dims[i] of input 1 where that is >= 0 (only its shape is read:
// an attention's (n, c, h * w) back to (n, c, h, w), h and w a feature map's).
#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "pyprune/graph/factories.h"
#include "pyprune/shape.h"

namespace pyprune::graph {

namespace {

constexpr int64_t kInferred = -1;

// The refusal of a reshape given `got` inputs where it takes `wanted`.
std::string inputs_taken(size_t wanted, size_t got) {
  return "reshape takes " + std::to_string(wanted) + " input" + (wanted > 1 ? "s" : "") + ", got " + std::to_string(got);
}

// Entry -(2 + i) is dim i of the input.
constexpr int64_t input_dim(size_t i) { return -2 - static_cast<int64_t>(i); }
constexpr size_t dim_of(int64_t entry) { return static_cast<size_t>(-2 - entry); }

class Reshape final : public Operator {
 public:
  Reshape(std::vector<int64_t> shape, std::vector<int64_t> like_dims)
      : shape_(std::move(shape)), like_dims_(std::move(like_dims)),
        inputs_(std::count(like_dims_.begin(), like_dims_.end(), kInferred) == ptrdiff_t(like_dims_.size()) ? 1 : 2) {}

  std::vector<Dims> output_shapes(const std::vector<Dims>& inputs) const override {
    if (inputs.size() != inputs_) throw std::invalid_argument(inputs_taken(inputs_, inputs.size()));
    const Dims& x = inputs[0];
    Dims out;
    size_t known = 1;
    for (size_t i = 0; i < shape_.size(); i++) {
      const int64_t e = shape_[i];
      size_t d = 1;  // the inferred entry, set below
      if (like_dims_[i] >= 0) {
        const size_t dim = static_cast<size_t>(like_dims_[i]);
        if (dim >= inputs[1].size())
          throw std::invalid_argument("shape entry " + std::to_string(i) + " is dim " + std::to_string(dim) +
                                      " of input 1, which has shape " + to_string(inputs[1]));
        d = inputs[1][dim];
      } else if (e <= input_dim(0)) {
        if (dim_of(e) >= x.size())
          throw std::invalid_argument("shape entry " + std::to_string(i) + " is dim " +
                                      std::to_string(dim_of(e)) + " of the input, which has shape " + to_string(x));
        d = x[dim_of(e)];
      } else if (e != kInferred) {
        d = static_cast<size_t>(e);
      }
      known = checked_mul(known, d, "the reshape target");
      out.push_back(d);
    }
    const size_t n = elements(x);
    const auto inferred = std::find(shape_.begin(), shape_.end(), kInferred);
    if (inferred != shape_.end()) {
      if (known == 0 || n % known != 0) fail(x);
      out[static_cast<size_t>(inferred - shape_.begin())] = n / known;
    } else if (known != n) {
      fail(x);
    }
    return {out};
  }

  void run(const std::vector<const float*>& inputs, const std::vector<Dims>& input_shapes,
           const std::vector<float*>& outputs, const std::vector<Dims>&) const override {
    // The graph never runs a view; alone (run_operator), the output is a buffer of its own.
    const size_t n = elements(input_shapes[0]);
    if (n != 0 && outputs[0] != inputs[0]) std::memcpy(outputs[0], inputs[0], n * sizeof(float));
  }

  bool view() const override { return true; }

  std::string describe() const override {
    std::string s = "reshape to (";
    for (size_t i = 0; i < shape_.size(); i++) {
      const int64_t e = shape_[i];
      s += i ? ", " : "";
      if (like_dims_[i] >= 0)
        s += "like.d" + std::to_string(like_dims_[i]);
      else
        s += e <= input_dim(0) ? "d" + std::to_string(dim_of(e)) : std::to_string(e);
    }
    return s + (shape_.size() == 1 ? ",)" : ")");
  }

 private:
  [[noreturn]] void fail(const Dims& x) const {
    throw std::invalid_argument("cannot " + describe() + " a tensor of shape " + to_string(x));
  }

  std::vector<int64_t> shape_, like_dims_;  // like_dims_: -1, or the dim of input 1 an entry is
  size_t inputs_;
};

}  // namespace

std::unique_ptr<Operator> make_reshape(const Attributes& attrs, const std::vector<const Constant*>& constants) {
  attrs.only({"shape", "like_dims"});
  std::vector<int64_t> shape =
      attrs.integer_list("shape", 0, kMaxRank, input_dim(kMaxRank - 1), std::numeric_limits<int64_t>::max());
  if (std::count(shape.begin(), shape.end(), 0) != 0)
    attrs.fail("attribute 'shape' entries must be a size >= 1, -1 or -(2 + i) for dim i of the input, got 0");
  if (std::count(shape.begin(), shape.end(), kInferred) > 1) attrs.fail("attribute 'shape' has more than one -1");
  std::vector<int64_t> like_dims(shape.size(), kInferred);
  if (attrs.has("like_dims")) {
    like_dims = attrs.integer_list("like_dims", shape.size(), shape.size(), kInferred, kMaxRank - 1);
    if (std::count(like_dims.begin(), like_dims.end(), kInferred) == ptrdiff_t(shape.size()))
      attrs.fail("attribute 'like_dims' names no dim of input 1");
    for (size_t i = 0; i < shape.size(); i++)
      if (like_dims[i] >= 0 && shape[i] == kInferred)
        attrs.fail("shape entry " + std::to_string(i) + " is -1 and a dim of input 1 (attribute 'like_dims')");
  }
  const size_t inputs = attrs.has("like_dims") ? 2 : 1;
  if (constants.size() != inputs) attrs.fail(inputs_taken(inputs, constants.size()));
  return std::make_unique<Reshape>(std::move(shape), std::move(like_dims));
}

}  // namespace pyprune::graph
