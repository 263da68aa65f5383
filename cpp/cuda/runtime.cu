// Devices, their streams and error words, errors, host <-> device copies.
//
// Each device gets one non-blocking stream, created on first use; every kernel and copy of that
// device is queued on it, so ops run in program order without host synchronisation. Kernels
// that find invalid data (a class index out of range, ...) cannot raise; they OR an ErrorCode
// into the device's error word, which the next synchronisation (synchronize(), a copy to the
// host) reads, clears and raises, like an asynchronous CUDA error.
#include <initializer_list>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/common.cuh"

namespace ember::cuda {

namespace {

struct DeviceState {
  cudaStream_t stream = nullptr;
  int* error_word = nullptr;
  bool ready = false;
};

std::mutex& state_mutex() {
  static auto* m = new std::mutex;
  return *m;
}

std::vector<DeviceState>& states() {
  static auto* s = new std::vector<DeviceState>;
  return *s;
}

void require_device(int device, const char* op) {
  const int n = device_count();
  if (device < 0 || device >= n)
    throw std::invalid_argument(std::string("[") + op + "] invalid device index " +
                                std::to_string(device) + " (" + std::to_string(n) +
                                " CUDA device(s) available)");
}

DeviceState& state(int device) {
  std::lock_guard<std::mutex> lock(state_mutex());
  auto& all = states();
  if (all.empty()) all.resize(static_cast<size_t>(device_count()));
  require_device(device, "cuda");
  DeviceState& s = all[static_cast<size_t>(device)];
  if (!s.ready) {
    check(cudaSetDevice(device), "cuda init");
    check(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking), "cuda init");
    check(cudaMalloc(reinterpret_cast<void**>(&s.error_word), sizeof(int)), "cuda init");
    check(cudaMemsetAsync(s.error_word, 0, sizeof(int), s.stream), "cuda init");
    s.ready = true;
  }
  return s;
}

std::string error_message(int code) {
  std::string msg;
  auto add = [&](const char* text) {
    if (!msg.empty()) msg += "; ";
    msg += text;
  };
  if (code & kBadClassIndex)
    add("[cross_entropy] a target class index is outside [0, C) and is not ignore_index");
  if (code & kBadProbability)
    add("[bce] p: expected probabilities in [0, 1], got values outside it (or NaN)");
  if (code & kBadIndex) add("[index] an index is out of range");
  return msg + " (reported by a CUDA kernel at the next synchronization)";
}

// Waits for the device's stream, then raises what its kernels recorded in the error word.
void wait_and_check(int device, const char* op) {
  DeviceState& s = state(device);
  check(cudaStreamSynchronize(s.stream), op);
  int code = 0;
  check(cudaMemcpy(&code, s.error_word, sizeof(int), cudaMemcpyDeviceToHost), op);
  if (code != 0) {
    check(cudaMemsetAsync(s.error_word, 0, sizeof(int), s.stream), op);
    check(cudaStreamSynchronize(s.stream), op);
    throw std::runtime_error(error_message(code));
  }
}

}  // namespace

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* op) {
  throw std::runtime_error(std::string("[") + op + "] CUDA error " + cudaGetErrorName(err) +
                           ": " + cudaGetErrorString(err));
}

[[noreturn]] void throw_value_error(const char* op, const std::string& msg) {
  throw std::invalid_argument(std::string("[") + op + "] " + msg);
}

int device_count() noexcept {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky "no driver" error so later calls start clean
      return 0;
    }
    return n;
  }();
  return count;
}

int current_device() {
  int d = 0;
  check(cudaGetDevice(&d), "current_device");
  return d;
}

void set_device(int device) {
  require_device(device, "set_device");
  check(cudaSetDevice(device), "set_device");
}

cudaStream_t stream_for(int device) {
  DeviceState& s = state(device);
  int current = -1;
  check(cudaGetDevice(&current), "cuda");
  if (current != device) check(cudaSetDevice(device), "cuda");
  return s.stream;
}

int* error_word(int device) { return state(device).error_word; }

void synchronize(int device) { wait_and_check(device, "synchronize"); }

std::string device_name(int device) {
  require_device(device, "get_device_name");
  cudaDeviceProp prop;
  check(cudaGetDeviceProperties(&prop, device), "get_device_name");
  return prop.name;
}

int runtime_version() {
  int v = 0;
  return cudaRuntimeGetVersion(&v) == cudaSuccess ? v : 0;
}

int driver_version() {
  int v = 0;
  if (cudaDriverGetVersion(&v) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return v;
}

const char* platform() {
#ifdef EMBER_CUDA_EMULATION
  return "host emulation";
#else
  return "cuda";
#endif
}

void copy_host_to_device(void* dst, const void* src, size_t nbytes, int device) {
  if (nbytes == 0) return;
  cudaStream_t s = stream_for(device);
  check(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, s), "copy to cuda");
  // The source is pageable host memory the caller may free or change right after: wait.
  check(cudaStreamSynchronize(s), "copy to cuda");
}

void copy_device_to_host(void* dst, const void* src, size_t nbytes, int device) {
  if (nbytes > 0) {
    cudaStream_t s = stream_for(device);
    check(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, s), "copy to host");
  }
  wait_and_check(device, "copy to host");
}

Scratch::Scratch(size_t nbytes, int device)
    : ptr_(allocate(nbytes, device, &reserved_)), device_(device) {}

Scratch::~Scratch() { release(ptr_, reserved_, device_); }

View contiguous_view(void* data, DType dtype, int device, std::initializer_list<int64_t> shape) {
  View v;
  v.data = data;
  v.dtype = dtype;
  v.device = device;
  v.ndim = static_cast<int>(shape.size());
  int d = 0;
  for (int64_t s : shape) v.shape[d++] = s;
  int64_t stride = 1;
  for (d = v.ndim - 1; d >= 0; --d) {
    v.strides[d] = stride;
    stride *= v.shape[d];
  }
  v.capacity = stride;
  return v;
}

int64_t itemsize(DType dtype) {
  switch (dtype) {
    case DType::Bool:
    case DType::UInt8: return 1;
    case DType::Int32:
    case DType::Float32: return 4;
    case DType::Int64:
    case DType::Float64: return 8;
  }
  return 1;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Bool: return "bool";
    case DType::UInt8: return "uint8";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
  }
  return "?";
}

bool is_floating(DType dtype) { return dtype == DType::Float32 || dtype == DType::Float64; }

}  // namespace ember::cuda
