// DType: the element types a Tensor can hold.
//
// f32 and f64 are the compute types; every differentiable op supports both (gradchecks run in f64).
// i64 holds indices and labels (gather, embedding, cross_entropy targets); arithmetic on it is refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

namespace wb {

enum class DType : std::uint8_t { f32, f64, i64 };

constexpr std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i64: return 8;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i64: return "i64";
  }
  return "?";
}

constexpr bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }

template <class T> struct TypeTag { using type = T; };

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::i64; }

// Calls fn(TypeTag<T>{}) with T = float or double; `what` names the caller in the error for i64.
template <class Fn>
decltype(auto) dispatch_floating(DType t, std::string_view what, Fn&& fn) {
  switch (t) {
    case DType::f32: return fn(TypeTag<float>{});
    case DType::f64: return fn(TypeTag<double>{});
    default: break;
  }
  throw std::invalid_argument(
      fmt::format("{}: expected a floating dtype (f32 or f64), got {}", what, dtype_name(t)));
}

// Calls fn(TypeTag<T>{}) for every dtype (copies, fills, gathers).
template <class Fn>
decltype(auto) dispatch_all(DType t, Fn&& fn) {
  switch (t) {
    case DType::f32: return fn(TypeTag<float>{});
    case DType::f64: return fn(TypeTag<double>{});
    case DType::i64: return fn(TypeTag<std::int64_t>{});
  }
  throw std::logic_error("dispatch_all: corrupt dtype");
}

}  // namespace wb
