// Philox4x32-10, the counter-based generator of Salmon et al., "Parallel random numbers: as easy
// as 1, 2, 3" (SC'11), as in the Random123 library: a pure function of a 128-bit counter and a
// 64-bit key returning four 32-bit words. Nothing is stored between calls, so any element's random
// number can be computed by any thread in any order.
//
// ember's stream for (seed, offset): the key is the seed (low word first); stream position
// e = offset + i (element i, modulo 2^64) takes word e % 4 of the call whose counter is
// (lo32(e / 4), hi32(e / 4), 0, 0). Positions 4k..4k+3 share one call, so kernels split work at
// multiples of 4 in e, and where a split falls never changes a value. A word becomes a uniform in
// [0, 1) from its top 24 bits: u = (w >> 8) * 2^-24, exact in float and never 1.
//
// Header-only and free of library calls so that the same code compiles for a CUDA device.
#pragma once

#include <cstdint>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define EMBER_HOST_DEVICE __host__ __device__
#else
#define EMBER_HOST_DEVICE
#endif

namespace ember::philox {

struct Counter {
  uint32_t w[4];
};
struct Key {
  uint32_t w[2];
};

// Multipliers and Weyl key increments from the paper (Random123's PHILOX_M4x32_*, PHILOX_W32_*).
constexpr uint32_t kM0 = 0xD2511F53u;
constexpr uint32_t kM1 = 0xCD9E8D57u;
constexpr uint32_t kW0 = 0x9E3779B9u;  // golden ratio
constexpr uint32_t kW1 = 0xBB67AE85u;  // sqrt(3) - 1
constexpr int kRounds = 10;

EMBER_HOST_DEVICE inline void mulhilo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  const uint64_t product = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(product >> 32);
  *lo = static_cast<uint32_t>(product);
}

EMBER_HOST_DEVICE inline Counter one_round(Counter c, Key k) {
  uint32_t hi0, lo0, hi1, lo1;
  mulhilo(kM0, c.w[0], &hi0, &lo0);
  mulhilo(kM1, c.w[2], &hi1, &lo1);
  return Counter{{hi1 ^ c.w[1] ^ k.w[0], lo1, hi0 ^ c.w[3] ^ k.w[1], lo0}};
}

EMBER_HOST_DEVICE inline Counter philox4x32_10(Counter c, Key k) {
  for (int r = 0; r < kRounds; ++r) {
    if (r > 0) {
      k.w[0] += kW0;
      k.w[1] += kW1;
    }
    c = one_round(c, k);
  }
  return c;
}

EMBER_HOST_DEVICE inline Key key_from_seed(uint64_t seed) {
  return Key{{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)}};
}

// The four words for stream elements 4 * group .. 4 * group + 3.
EMBER_HOST_DEVICE inline Counter group_words(uint64_t seed, uint64_t group) {
  const Counter c{{static_cast<uint32_t>(group), static_cast<uint32_t>(group >> 32), 0u, 0u}};
  return philox4x32_10(c, key_from_seed(seed));
}

// The top 24 bits of a word: the uniform is this value times 2^-24.
EMBER_HOST_DEVICE inline uint32_t uniform24(uint32_t word) { return word >> 8; }

}  // namespace ember::philox
