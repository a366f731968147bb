#include "model/recompute.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include "model/autocast_flags.h"

namespace dinet {
namespace {

struct AutocastState {
  bool cpu = false, gpu = false;
  at::ScalarType cpu_dtype = at::kBFloat16, gpu_dtype = at::kHalf;

  static AutocastState current() {
    return {autocast::enabled(c10::kCPU), autocast::enabled(c10::kCUDA), autocast::dtype(c10::kCPU),
            autocast::dtype(c10::kCUDA)};
  }
  void set() const {
    autocast::set_enabled(c10::kCPU, cpu);
    autocast::set_enabled(c10::kCUDA, gpu);
    autocast::set_dtype(c10::kCPU, cpu_dtype);
    autocast::set_dtype(c10::kCUDA, gpu_dtype);
  }
};

// The forward's autocast state while alive. The backward runs outside the trainer's
// autocast scope, so this is a scope of its own: its cache of cast weights is cleared at the
// end, or the next step would compute with casts of weights the optimizer has changed since.
class AutocastAs {
 public:
  explicit AutocastAs(const AutocastState& state) : previous_(AutocastState::current()) {
    state.set();
    at::autocast::increment_nesting();
  }
  ~AutocastAs() {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    previous_.set();
  }
  AutocastAs(const AutocastAs&) = delete;
  AutocastAs& operator=(const AutocastAs&) = delete;

 private:
  AutocastState previous_;
};

// The module's buffers as they are now, put back when this goes: a train-mode BatchNorm
// updates its running statistics in every forward, and the recompute is not a new step.
class KeepBuffers {
 public:
  explicit KeepBuffers(torch::nn::Module& module) : buffers_(module.buffers()) {
    for (const at::Tensor& b : buffers_) copies_.push_back(b.clone());
  }
  ~KeepBuffers() {
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < buffers_.size(); ++i) buffers_[i].copy_(copies_[i]);
  }
  KeepBuffers(const KeepBuffers&) = delete;
  KeepBuffers& operator=(const KeepBuffers&) = delete;

 private:
  std::vector<at::Tensor> buffers_, copies_;
};

// What the backward needs besides tensors; the context holds it as a capsule.
struct Segment : torch::CustomClassHolder {
  Segment(std::shared_ptr<torch::nn::Module> m, std::function<at::Tensor(const at::Tensor&)> r)
      : module(std::move(m)), run(std::move(r)), autocast(AutocastState::current()) {}
  std::shared_ptr<torch::nn::Module> module;
  std::function<at::Tensor(const at::Tensor&)> run;
  AutocastState autocast;
};

// Inputs: x, then the segment's parameters, so that autograd routes their gradients through
// this node (and calls its backward even when x itself needs no gradient).
struct RecomputeFunction : torch::autograd::Function<RecomputeFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            at::TensorList parameters, const c10::intrusive_ptr<Segment>& segment) {
    ctx->save_for_backward({x});
    ctx->saved_data["segment"] = c10::IValue::make_capsule(segment);
    return segment->run(x);  // autograd is off in a Function's forward: nothing is kept
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto segment =
        c10::static_intrusive_pointer_cast<Segment>(ctx->saved_data["segment"].toCapsule());
    const std::vector<at::Tensor> parameters = segment->module->parameters();
    const at::Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(ctx->needs_input_grad(0));

    std::vector<at::Tensor> inputs{x};
    inputs.insert(inputs.end(), parameters.begin(), parameters.end());
    std::vector<at::Tensor> wanted;
    for (size_t i = 0; i < inputs.size(); ++i)
      if (ctx->needs_input_grad(i)) wanted.push_back(inputs[i]);

    // Restored after the gradients: the recompute's BatchNorm saved the buffers it updated,
    // and autograd refuses tensors changed after they were saved.
    KeepBuffers buffers(*segment->module);
    at::Tensor out;
    {
      at::AutoGradMode grad(true);
      AutocastAs autocast(segment->autocast);
      out = segment->run(x);
    }
    const std::vector<at::Tensor> grads =
        torch::autograd::grad({out}, wanted, {grad_outputs[0]}, /*retain_graph=*/false,
                              /*create_graph=*/false, /*allow_unused=*/true);

    torch::autograd::variable_list result;
    size_t next = 0;
    for (size_t i = 0; i < inputs.size(); ++i)
      result.push_back(ctx->needs_input_grad(i) ? grads[next++] : at::Tensor());
    result.emplace_back();  // the segment
    return result;
  }
};

}  // namespace

at::Tensor recomputed(torch::nn::Module& segment, std::function<at::Tensor(const at::Tensor&)> run,
                      const at::Tensor& x) {
  if (!at::GradMode::is_enabled()) return run(x);
  const std::vector<at::Tensor> parameters = segment.parameters();
  return RecomputeFunction::apply(
      x, at::TensorList(parameters),
      c10::make_intrusive<Segment>(segment.shared_from_this(), std::move(run)));
}

}  // namespace dinet
