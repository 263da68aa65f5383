// Scalar functions the element-wise kernels apply, for one element: NumPy's floor division and
// remainder, integer powers, and the activations with the same formulas as cpu/activation.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "cuda/common.cuh"

namespace ember::cuda {

// NumPy's floor_divide / remainder (Python semantics: the remainder has the divisor's sign).
template <typename T>
__host__ __device__ inline T floor_divide(T a, T b) {
  if constexpr (std::is_floating_point<T>::value) {
    if (b == T(0)) return a / b;
    T mod = std::fmod(a, b);
    T div = (a - mod) / b;
    if (mod != T(0)) {
      if ((b < T(0)) != (mod < T(0))) div -= T(1);
    }
    if (div != T(0)) {
      T floordiv = std::floor(div);
      if (div - floordiv > T(0.5)) floordiv += T(1);
      return floordiv;
    }
    return std::copysign(T(0), a / b);
  } else {
    if (b == T(0)) return T(0);
    T q = a / b;
    if (std::is_signed<T>::value && (a % b != T(0)) && ((a < T(0)) != (b < T(0)))) q -= T(1);
    return q;
  }
}

template <typename T>
__host__ __device__ inline T remainder(T a, T b) {
  if constexpr (std::is_floating_point<T>::value) {
    T mod = std::fmod(a, b);
    if (b == T(0)) return mod;
    if (mod != T(0)) {
      if ((b < T(0)) != (mod < T(0))) mod += b;
    } else {
      mod = std::copysign(T(0), b);
    }
    return mod;
  } else {
    if (b == T(0)) return T(0);
    T r = a % b;
    if (std::is_signed<T>::value && r != T(0) && ((r < T(0)) != (b < T(0)))) r += b;
    return r;
  }
}

// a ** b for integers, wrapping on overflow as NumPy does; negative powers give 1 / a^|b|
// truncated (0 unless a is 1 or -1).
template <typename T>
__host__ __device__ inline T int_power(T a, T b) {
  if constexpr (std::is_signed<T>::value) {
    if (b < T(0)) {
      if (a == T(1)) return T(1);
      if (a == T(-1)) return (b % T(2) == T(0)) ? T(1) : T(-1);
      return T(0);
    }
  }
  using U = std::make_unsigned_t<T>;
  U result = 1, base = static_cast<U>(a);
  for (T e = b; e > T(0); e /= T(2)) {
    if (e % T(2) == T(1)) result = static_cast<U>(result * base);
    base = static_cast<U>(base * base);
  }
  return static_cast<T>(result);
}

constexpr double kSqrt1_2 = 0.70710678118654752440;      // 1 / sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1 / sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kKappa = 0.044715;

template <typename T>
__host__ __device__ inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

template <typename T>
__host__ __device__ inline T normal_cdf(T x) {
  return T(0.5) * std::erfc(-x * T(kSqrt1_2));
}

template <typename T>
__host__ __device__ inline T gelu_exact(T x) {
  return x * normal_cdf(x);
}

template <typename T>
__host__ __device__ inline T gelu_exact_grad(T x) {
  const T pdf = T(kInvSqrt2Pi) * std::exp(T(-0.5) * x * x);
  return normal_cdf(x) + x * pdf;
}

template <typename T>
__host__ __device__ inline T gelu_tanh(T x) {
  const T inner = T(kSqrt2OverPi) * (x + T(kKappa) * x * x * x);
  return T(0.5) * x * (T(1) + std::tanh(inner));
}

template <typename T>
__host__ __device__ inline T gelu_tanh_grad(T x) {
  const T x2 = x * x;
  const T th = std::tanh(T(kSqrt2OverPi) * (x + T(kKappa) * x2 * x));
  const T dinner = T(kSqrt2OverPi) * (T(1) + T(3 * kKappa) * x2);
  return T(0.5) * (T(1) + th) + T(0.5) * x * (T(1) - th * th) * dinner;
}

}  // namespace ember::cuda
