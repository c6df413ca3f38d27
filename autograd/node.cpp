#include "autograd/node.hpp"

#include <atomic>

#include "autograd/grad_mode.hpp"

namespace wb::autograd {
namespace {
std::atomic<std::uint64_t> next_sequence{0};
}

Node::Node() : seq_(next_sequence.fetch_add(1, std::memory_order_relaxed)) {}

// Iterative teardown: a long chain of nodes would otherwise free itself recursively (one stack frame
// per node) and overflow the stack. Producers that only this node keeps alive are moved to a
// thread-local list and freed in a loop by the outermost destructor.
Node::~Node() {
  thread_local std::vector<std::shared_ptr<Node>> pending;
  thread_local bool draining = false;
  for (auto& e : next_)
    if (e.node && e.node.use_count() == 1) pending.push_back(std::move(e.node));
  if (draining) return;
  draining = true;
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    n.reset();  // may push its own producers onto `pending`
  }
  draining = false;
}

bool should_record(const std::vector<Tensor>& inputs) {
  if (!GradMode::enabled()) return false;
  for (const auto& t : inputs)
    if (t.defined() && (t.requires_grad() || t.grad_fn())) return true;
  return false;
}

void attach(Tensor& out, std::shared_ptr<Node> node, const std::vector<Tensor>& inputs) {
  node->next_.reserve(inputs.size());
  for (const auto& t : inputs) {
    Edge e;
    if (t.defined()) {
      e.shape = t.shape();
      e.dtype = t.dtype();
      if (auto fn = t.grad_fn())
        e.node = std::move(fn);
      else if (t.requires_grad())
        e.leaf = t.meta();
    }
    node->next_.push_back(std::move(e));
  }
  auto meta = std::make_shared<AutogradMeta>();
  meta->grad_fn = std::move(node);
  out.set_meta(std::move(meta));
}

}  // namespace wb::autograd
