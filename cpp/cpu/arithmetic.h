// out = a (op) b element by element, for two arrays of one shape: the four arithmetic operators.
//
// NumPy computes these for every other case (broadcasting, scalars, integers, out=). They are
// here for large arrays only, where NumPy's single thread and its freshly mapped output left
// `a + b` at half the memory bandwidth; each element is the one IEEE operation NumPy performs,
// so the results are identical.
#pragma once

#include <cstdint>

namespace ember::cpu {

enum class Arithmetic { Add, Subtract, Multiply, Divide };

template <typename T>
void arithmetic(Arithmetic op, T* out, const T* a, const T* b, int64_t n);

}  // namespace ember::cpu
