#include "ops/attention.hpp"

#include "autograd/node.hpp"
#include "tensor/prim.hpp"

namespace wb::ops {
namespace {

class AttentionNode final : public autograd::Node {
 public:
  AttentionNode(Tensor q, Tensor k, Tensor v, Tensor maps, std::int64_t heads, double scale, bool tied, bool causal)
      : q_(std::move(q)), k_(std::move(k)), v_(std::move(v)), maps_(std::move(maps)), heads_(heads), scale_(scale),
        tied_(tied), causal_(causal) {}
  std::string_view name() const override {
    return tied_ ? (causal_ ? "tied_causal_attention" : "tied_attention") : (causal_ ? "causal_attention" : "attention");
  }
  std::vector<Tensor> backward(const Tensor& dout) override {
    auto g = prim::attention_backward(dout, q_, k_, v_, maps_, heads_, scale_, tied_, causal_);
    if (tied_) return {g.dq};
    return {needs_grad(0) ? g.dq : Tensor(), needs_grad(1) ? g.dk : Tensor(), needs_grad(2) ? g.dv : Tensor()};
  }
  void release_saved() override { q_ = k_ = v_ = maps_ = Tensor(); }

 private:
  Tensor q_, k_, v_, maps_;
  std::int64_t heads_;
  double scale_;
  bool tied_, causal_;
};

Tensor attention_impl(const Tensor& q, const Tensor& k, const Tensor& v, std::int64_t heads, double scale, Tensor* maps,
                      bool causal) {
  auto r = prim::attention(q, k, v, heads, scale, causal);
  if (maps != nullptr) *maps = r.maps;
  autograd::record<AttentionNode>(r.out, {q, k, v}, q.detach(), k.detach(), v.detach(), r.maps, heads, scale, false,
                                  causal);
  return r.out;
}

Tensor tied_attention_impl(const Tensor& q, std::int64_t heads, double scale, Tensor* maps, bool causal) {
  auto r = prim::attention(q, q, q, heads, scale, causal);
  if (maps != nullptr) *maps = r.maps;
  const Tensor qd = q.detach();
  autograd::record<AttentionNode>(r.out, {q}, qd, qd, qd, r.maps, heads, scale, true, causal);
  return r.out;
}

}  // namespace

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, std::int64_t heads, double scale, Tensor* maps) {
  return attention_impl(q, k, v, heads, scale, maps, false);
}
Tensor tied_attention(const Tensor& q, std::int64_t heads, double scale, Tensor* maps) {
  return tied_attention_impl(q, heads, scale, maps, false);
}
Tensor causal_attention(const Tensor& q, const Tensor& k, const Tensor& v, std::int64_t heads, double scale,
                        Tensor* maps) {
  return attention_impl(q, k, v, heads, scale, maps, true);
}
Tensor tied_causal_attention(const Tensor& q, std::int64_t heads, double scale, Tensor* maps) {
  return tied_attention_impl(q, heads, scale, maps, true);
}

}  // namespace wb::ops
