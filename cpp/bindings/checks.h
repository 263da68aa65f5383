// Argument checking shared by every binding: each native entry point validates ndim, shape,
// dtype and contiguity before the GIL is released, and reports errors as
//   [op] name: expected ..., got ...
// so that bad input raises ValueError/TypeError in Python instead of crashing the interpreter.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "cpu/block_cache.h"

namespace ember::bind {

namespace py = pybind11;

std::string shape_str(const py::array& a);
std::string dims_str(const std::vector<int64_t>& dims);

[[noreturn]] void fail_value(const char* op, const std::string& msg);
[[noreturn]] void fail_type(const char* op, const std::string& msg);

// Requires a C-contiguous float32/float64 array; returns its dtype's item size.
void require_float(const py::array& a, const char* op, const char* name);
void require_int64(const py::array& a, const char* op, const char* name);
void require_contiguous(const py::array& a, const char* op, const char* name);
void require_ndim(const py::array& a, int ndim, const char* op, const char* name,
                  const char* layout);
void require_same_dtype(const py::array& a, const py::array& b, const char* op, const char* name_a,
                        const char* name_b);
void require_shape(const py::array& a, const std::vector<int64_t>& dims, const char* op,
                   const char* name);
void require_positive(int64_t v, const char* op, const char* name);
void require_nonnegative(int64_t v, const char* op, const char* name);

std::vector<int64_t> dims_of(const py::array& a);

// True when `dt` holds native-endian T. Compares type numbers, not dtype identity: NumPy can hand
// out equal dtypes that are distinct objects (e.g. after newbyteorder('<') on a little-endian CPU).
template <typename T>
bool holds(const py::dtype& dt) {
  const char order = dt.byteorder();
  const char native_order = [] {
    const uint16_t one = 1;
    return *reinterpret_cast<const char*>(&one) ? '<' : '>';
  }();
  const bool native = order == '=' || order == '|' || order == native_order;
  return native && dt.normalized_num() == py::dtype::of<T>().normalized_num();
}

inline bool is_float32(const py::array& a) { return holds<float>(a.dtype()); }

// Calls f(T{}) with T = float or double according to a's dtype (a is already checked).
template <typename F>
decltype(auto) dispatch_float(const py::array& a, F&& f) {
  if (is_float32(a)) return f(float{});
  return f(double{});
}

template <typename T>
size_t bytes_of(const std::vector<int64_t>& dims) {
  size_t bytes = sizeof(T);
  for (const int64_t d : dims) bytes *= static_cast<size_t>(d);
  return bytes;
}

// An array of `dims` over `block`, which `release` frees when the array goes (or at once, if
// wrapping it fails).
template <typename T>
py::array_t<T> owning_array(const std::vector<int64_t>& dims, void* block, void (*release)(void*)) {
  py::capsule owner;
  try {
    owner = py::capsule(block, release);
  } catch (...) {
    release(block);
    throw;
  }
  std::vector<py::ssize_t> shape(dims.begin(), dims.end());
  return py::array_t<T>(shape, static_cast<T*>(block), owner);
}

// A new C-contiguous array for a kernel's output. From kBlockCacheFrom bytes its memory comes
// from the block cache (block_cache.h) and goes back there when the array is freed.
template <typename T>
py::array_t<T> empty_like_dims(const std::vector<int64_t>& dims) {
  const size_t bytes = bytes_of<T>(dims);
  if (bytes < kBlockCacheFrom)
    return py::array_t<T>(std::vector<py::ssize_t>(dims.begin(), dims.end()));
  return owning_array<T>(dims, acquire_block(bytes), [](void* p) { release_block(p); });
}

// empty_like_dims, but from 64 KiB on 64-byte aligned (a cache line): the AMX GEMM writes C
// a tile row (64 bytes) at a time, and a row straddling two lines costs two.
template <typename T>
py::array_t<T> empty_matrix(const std::vector<int64_t>& dims) {
  const size_t bytes = bytes_of<T>(dims);
  if (bytes < (size_t(1) << 16) || bytes >= kBlockCacheFrom) return empty_like_dims<T>(dims);
  return owning_array<T>(dims, ::operator new(bytes, std::align_val_t(64)),
                         [](void* p) { ::operator delete(p, std::align_val_t(64)); });
}

template <typename T>
T* mut_ptr(py::array& a) {
  return static_cast<T*>(a.mutable_data());
}
template <typename T>
const T* ptr(const py::array& a) {
  return static_cast<const T*>(a.data());
}

}  // namespace ember::bind
