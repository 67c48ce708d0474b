#include "model/linear.h"

#include <ATen/autocast_mode.h>
#include <ATen/record_function.h>
#include <torch/version.h>

#include <atomic>
#include <vector>

#include "util/cpu_gemm.h"
#include "util/cpu_matmul.h"
#include "util/env_switch.h"

namespace gptforge {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

bool cpu_autocast_enabled() {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  return at::autocast::is_autocast_enabled(at::kCPU);
#else
  return at::autocast::is_cpu_enabled();
#endif
}

// dense_forward_uses_matmul's switch (linear.h): on unless GPTFORGE_DENSE_MATMUL=0.
std::atomic<bool>& forward_matmul_switch() {
  static std::atomic<bool> on{env_switch("GPTFORGE_DENSE_MATMUL").value_or(true)};
  return on;
}

bool strided_fp32_cpu(const torch::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.layout() == torch::kStrided;
}

// The products on 2-D row-major arrays: x2 (rows, in) and w (out, in), both contiguous.
torch::Tensor forward_products(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias) {
  RECORD_FUNCTION("gptforge::dense", std::vector<c10::IValue>());  // named in op profiles
  const int64_t in = weight.size(1), out = weight.size(0);
  torch::Tensor x2 = x.reshape({-1, in}).contiguous(), w = weight.contiguous();
  const int64_t rows = x2.size(0);
  // Made in its final shape, not viewed into it: a view returned by a custom function may not be
  // modified in place (the MLP's relu_ does).
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = out;
  torch::Tensor y = torch::empty(shape, x.options());
  if (dense_forward_uses_matmul(rows, out, in)) {
    const torch::Tensor b = bias.defined() ? bias.contiguous() : bias;
    cpu_matmul(false, true, rows, out, in, x2.data_ptr<float>(), in, w.data_ptr<float>(), in,
               b.defined() ? b.data_ptr<float>() : nullptr, y.data_ptr<float>(), out);
  } else {
    // y is a fresh buffer even with a bias: expand(shape).contiguous() of a single row is the bias
    // itself (a size-1 dimension's stride does not count), which the product would then overwrite.
    if (bias.defined()) y.copy_(bias.expand(shape));
    cpu_sgemm(false, true, rows, out, in, 1.0f, x2.data_ptr<float>(), in, w.data_ptr<float>(), in,
              bias.defined() ? 1.0f : 0.0f, y.data_ptr<float>(), out);
  }
  // x2 and w are what the backward multiplies, kept as data; the inputs they alias are saved too, so
  // that an in-place change of either before the backward is an error. A non-contiguous x was
  // copied into x2: then x itself is not kept (the backward never reads it).
  const bool x_copied = !x.is_contiguous();
  ctx->save_for_backward(x_copied ? torch::autograd::variable_list{weight} : torch::autograd::variable_list{weight, x});
  ctx->saved_data["x_sizes"] = x.sizes();
  ctx->saved_data["x2"] = x2;
  ctx->saved_data["w"] = w;
  return y;
}

// dx = dy W, dW = dy^T x, and db = the column sums of dy when with_bias.
tensor_list backward_products(AutogradContext* ctx, const torch::Tensor& grad, bool with_bias) {
  RECORD_FUNCTION("gptforge::dense_backward", std::vector<c10::IValue>());
  ctx->get_saved_variables();  // checks that no saved input changed since the forward
  const torch::Tensor x2 = ctx->saved_data["x2"].toTensor(), w = ctx->saved_data["w"].toTensor();
  const int64_t rows = x2.size(0), in = w.size(1), out = w.size(0);
  torch::Tensor g = grad.reshape({rows, out}).contiguous();
  torch::Tensor gx, gw, gb;
  if (ctx->needs_input_grad(0)) {
    gx = torch::empty({rows, in}, g.options());
    cpu_sgemm(false, false, rows, in, out, 1.0f, g.data_ptr<float>(), out, w.data_ptr<float>(), in, 0.0f,
              gx.data_ptr<float>(), in);
    gx = gx.view(ctx->saved_data["x_sizes"].toIntVector());
  }
  if (ctx->needs_input_grad(1)) {
    gw = torch::empty({out, in}, g.options());
    cpu_sgemm(true, false, out, in, rows, 1.0f, g.data_ptr<float>(), out, x2.data_ptr<float>(), in, 0.0f,
              gw.data_ptr<float>(), in);
  }
  if (!with_bias) return {gx, gw};
  if (ctx->needs_input_grad(2)) gb = g.sum(0);
  return {gx, gw, gb};
}

// Two functions, with and without a bias: LibTorch 1.x's custom functions take no undefined input.
struct CpuDense : public torch::autograd::Function<CpuDense> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight) {
    return forward_products(ctx, x, weight, {});
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    return backward_products(ctx, grad_outputs[0], false);
  }
};

struct CpuDenseBias : public torch::autograd::Function<CpuDenseBias> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias) {
    return forward_products(ctx, x, weight, bias);
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    return backward_products(ctx, grad_outputs[0], true);
  }
};

}  // namespace

bool dense_forward_uses_matmul(int64_t rows, int64_t out, int64_t in) {
  return rows >= kMinRowsForMatmul && out <= in && forward_matmul_switch().load(std::memory_order_relaxed);
}

bool set_dense_forward_matmul_enabled(bool on) { return forward_matmul_switch().exchange(on); }

bool dense_uses_cpu_gemm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  return onednn_gemm_enabled() && strided_fp32_cpu(x) && strided_fp32_cpu(weight) && (!bias.defined() || strided_fp32_cpu(bias)) &&
         weight.dim() == 2 && x.dim() >= 1 && x.size(-1) == weight.size(1) && x.numel() > 0 &&
         !cpu_autocast_enabled();
}

torch::Tensor dense(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (dense_uses_cpu_gemm(x, weight, bias)) {
    return bias.defined() ? CpuDenseBias::apply(x, weight, bias) : CpuDense::apply(x, weight);
  }
  return torch::linear(x, weight, bias);
}

}  // namespace gptforge
