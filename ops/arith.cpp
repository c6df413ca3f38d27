#include "ops/arith.hpp"

#include "autograd/node.hpp"
#include "ops/util.hpp"
#include "tensor/prim.hpp"

namespace wb::ops {

using prim::Binary;
using prim::Unary;

// ---- add / sub ----
namespace {
class AddSubNode final : public autograd::Node {
 public:
  AddSubNode(Shape a, Shape b, bool subtract) : a_(std::move(a)), b_(std::move(b)), subtract_(subtract) {}
  std::string_view name() const override { return subtract_ ? "sub" : "add"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor da = needs_grad(0) ? prim::reduce_to_shape(dy, a_) : Tensor();
    Tensor db;
    if (needs_grad(1)) {
      db = prim::reduce_to_shape(dy, b_);
      if (subtract_) db = prim::unary(Unary::neg, db);
    }
    return {da, db};
  }

 private:
  Shape a_, b_;
  bool subtract_;
};
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = prim::binary(Binary::add, a, b);
  autograd::record<AddSubNode>(y, {a, b}, a.shape(), b.shape(), false);
  return y;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = prim::binary(Binary::sub, a, b);
  autograd::record<AddSubNode>(y, {a, b}, a.shape(), b.shape(), true);
  return y;
}

// ---- mul ----
namespace {
class MulNode final : public autograd::Node {
 public:
  MulNode(const Tensor& a, const Tensor& b)
      : a_(tracks_grad(b) ? a.detach() : Tensor()), b_(tracks_grad(a) ? b.detach() : Tensor()), sa_(a.shape()),
        sb_(b.shape()) {}
  std::string_view name() const override { return "mul"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor da = needs_grad(0) ? prim::reduce_to_shape(prim::binary(Binary::mul, dy, b_), sa_) : Tensor();
    Tensor db = needs_grad(1) ? prim::reduce_to_shape(prim::binary(Binary::mul, dy, a_), sb_) : Tensor();
    return {da, db};
  }
  void release_saved() override { a_ = b_ = Tensor(); }

 private:
  Tensor a_, b_;
  Shape sa_, sb_;
};
}  // namespace

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = prim::binary(Binary::mul, a, b);
  autograd::record<MulNode>(y, {a, b}, a, b);
  return y;
}

// ---- div ----
namespace {
class DivNode final : public autograd::Node {
 public:
  DivNode(const Tensor& a, const Tensor& b, const Tensor& y)
      : b_(b.detach()), y_(tracks_grad(b) ? y.detach() : Tensor()), sa_(a.shape()), sb_(b.shape()) {}
  std::string_view name() const override { return "div"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    const Tensor q = prim::binary(Binary::div, dy, b_);  // dy / b
    Tensor da = needs_grad(0) ? prim::reduce_to_shape(q, sa_) : Tensor();
    Tensor db;
    if (needs_grad(1)) db = prim::reduce_to_shape(prim::unary(Unary::neg, prim::binary(Binary::mul, q, y_)), sb_);
    return {da, db};
  }
  void release_saved() override { b_ = y_ = Tensor(); }

 private:
  Tensor b_, y_;
  Shape sa_, sb_;
};
}  // namespace

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = prim::binary(Binary::div, a, b);
  autograd::record<DivNode>(y, {a, b}, a, b, y);
  return y;
}

// ---- neg and scalar maps: y = s * x + c, dx = s * dy ----
namespace {
class AffineScalarNode final : public autograd::Node {
 public:
  AffineScalarNode(double scale, const char* name) : scale_(scale), name_(name) {}
  std::string_view name() const override { return name_; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    if (scale_ == 1.0) return {dy};
    return {prim::unary(Unary::mul_scalar, dy, scale_)};
  }

 private:
  double scale_;
  const char* name_;
};
}  // namespace

Tensor neg(const Tensor& x) {
  Tensor y = prim::unary(Unary::neg, x);
  autograd::record<AffineScalarNode>(y, {x}, -1.0, "neg");
  return y;
}

Tensor add_scalar(const Tensor& x, double s) {
  Tensor y = prim::unary(Unary::add_scalar, x, s);
  autograd::record<AffineScalarNode>(y, {x}, 1.0, "add_scalar");
  return y;
}

Tensor mul_scalar(const Tensor& x, double s) {
  Tensor y = prim::unary(Unary::mul_scalar, x, s);
  autograd::record<AffineScalarNode>(y, {x}, s, "mul_scalar");
  return y;
}

}  // namespace wb::ops

namespace wb {
Tensor operator+(const Tensor& a, const Tensor& b) { return ops::add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return ops::sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return ops::mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return ops::div(a, b); }
Tensor operator-(const Tensor& x) { return ops::neg(x); }
Tensor operator+(const Tensor& a, double s) { return ops::add_scalar(a, s); }
Tensor operator+(double s, const Tensor& a) { return ops::add_scalar(a, s); }
Tensor operator-(const Tensor& a, double s) { return ops::add_scalar(a, -s); }
Tensor operator-(double s, const Tensor& a) { return ops::add_scalar(ops::neg(a), s); }
Tensor operator*(const Tensor& a, double s) { return ops::mul_scalar(a, s); }
Tensor operator*(double s, const Tensor& a) { return ops::mul_scalar(a, s); }
Tensor operator/(const Tensor& a, double s) { return ops::mul_scalar(a, 1.0 / s); }
}  // namespace wb
