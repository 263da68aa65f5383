// out[i] = src[indices[i]] for whole rows: a batch of samples picked from a dataset.
//
// A shuffled batch reads rows scattered over a dataset far larger than the caches, each on its
// own pages. NumPy's fancy index copies them one after another, so every row's TLB walk and
// first cache misses wait for the previous row's copy. Here the rows a few places ahead are
// prefetched while one is copied, and large batches are split among threads. Indices are
// checked (and negative ones resolved) by the caller.
#pragma once

#include <cstdint>

namespace ember::cpu {

void gather_rows(char* out, const char* src, const int64_t* indices, int64_t count,
                 int64_t row_bytes);

}  // namespace ember::cpu
