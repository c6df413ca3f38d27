// CUDA backend entry points, mirroring tensor/cpu/kernels.hpp one for one. Built from tensor/cuda/*.cu
// when meson finds nvcc; otherwise tensor/cuda_stub.cpp defines them to throw "built without CUDA".
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/cpu/kernels.hpp"

namespace wb::cuda {

// memory.cu
int device_count();
void* alloc(std::size_t nbytes);
void free(void* p);
enum class CopyKind { host_to_device, device_to_host, device_to_device };
void memcpy(void* dst, const void* src, std::size_t nbytes, CopyKind kind);

// elementwise.cu
void copy(const Tensor& dst, const Tensor& src);
void fill(const Tensor& x, double value);
void unary(prim::Unary op, const Tensor& x, const Tensor& out, double p);
void unary_backward(prim::Unary op, const Tensor& dy, const Tensor& saved, const Tensor& dx, double p);
void binary(prim::Binary op, const Tensor& a, const Tensor& b, const Tensor& out);
void axpy(const Tensor& y, const Tensor& x, double alpha);
void masked_fill(const Tensor& x, const Tensor& mask, double value, const Tensor& out);

// blas.cu (cuBLAS)
void gemm(const cpu::GemmBatch& g, const Tensor& a, const Tensor& b, const Tensor& c);

// linalg (cuSOLVER potrf/potrs/potri, cuBLAS syrk/trsm)
void gram(const Tensor& x, const cpu::MatrixBatch& xb, prim::Gram form, double alpha, double beta, const Tensor& out);
cpu::CholeskyStatus cholesky(const Tensor& a, std::int64_t batch, std::int64_t n);
void cholesky_logdet(const Tensor& l, std::int64_t batch, std::int64_t n, const Tensor& out);
cpu::CholeskyStatus gram_cholesky(const Tensor& x, const cpu::MatrixBatch& xb, prim::Gram form, double alpha,
                                  double beta, const Tensor& l, const Tensor& logdet);
void cholesky_solve(const Tensor& l, std::int64_t n, const Tensor& b, const cpu::MatrixBatch& bb, prim::Side side,
                    double alpha);
cpu::CholeskyStatus cholesky_inverse(const Tensor& l, std::int64_t batch, std::int64_t n, const Tensor& out);

// reduce.cu and fused.cu
void sum_axis(const Tensor& x, std::int64_t outer, std::int64_t r, std::int64_t inner, const Tensor& out);
void max_axis(const Tensor& x, std::int64_t outer, std::int64_t r, std::int64_t inner, const Tensor& values,
              const Tensor& indices);
double sum_all(const Tensor& x);
void softmax(const Tensor& x, std::int64_t outer, std::int64_t r, std::int64_t inner, bool log, const Tensor& y);
void softmax_backward(const Tensor& dy, const Tensor& y, std::int64_t outer, std::int64_t r, std::int64_t inner,
                      bool log, const Tensor& dx);
void layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, const Tensor& y,
                const Tensor& mean, const Tensor& rstd);
void layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                         const Tensor& gamma, const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta);
void attention(const Tensor& q, const Tensor& k, const Tensor& v, std::int64_t heads, double scale, const Tensor& out,
               const Tensor& maps);
void attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& maps,
                        std::int64_t heads, double scale, const Tensor& dq, const Tensor& dk, const Tensor& dv);
double cross_entropy(const Tensor& logits, const Tensor& target, std::int64_t ignore_index, double smoothing,
                     const Tensor& log_prob, std::int64_t& count);
void cross_entropy_backward(double dloss, const Tensor& log_prob, const Tensor& target, std::int64_t ignore_index,
                            double smoothing, std::int64_t count, const Tensor& dlogits);
void index_select(const Tensor& x, std::int64_t outer, std::int64_t n, std::int64_t inner, const Tensor& index,
                  const Tensor& out);
void index_add(const Tensor& out, std::int64_t outer, std::int64_t n, std::int64_t inner, const Tensor& index,
               const Tensor& src);
void gather(const Tensor& x, std::int64_t axis, const Tensor& index, const Tensor& out);
void scatter_add(const Tensor& out, std::int64_t axis, const Tensor& index, const Tensor& src);

}  // namespace wb::cuda
