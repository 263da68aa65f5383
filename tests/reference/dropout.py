"""Float64 NumPy references for dropout and its random stream, written from the definitions.

Philox4x32-10 (Salmon et al., SC'11): ten rounds of
    (c0, c1, c2, c3) -> (hi(M1*c2) ^ c1 ^ k0, lo(M1*c2), hi(M0*c0) ^ c3 ^ k1, lo(M0*c0))
with the key bumped by the Weyl constants (W0, W1) between rounds. Vectorised over counters with
64-bit NumPy products of 32-bit words.

ember's stream: stream position e = offset + i uses word e % 4 of the call with counter
(lo32(e // 4), hi32(e // 4), 0, 0) and key (lo32(seed), hi32(seed)); the uniform is
(word >> 8) / 2**24 and element i is kept when uniform >= p.
"""

import numpy as np

M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK32 = 0xFFFFFFFF


def philox4x32_10(counters, key):
    """counters: (n, 4) integers < 2**32; key: two integers < 2**32. Returns (n, 4) uint64."""
    c = np.array(counters, dtype=np.uint64).reshape(-1, 4).T.copy()
    k0, k1 = int(key[0]), int(key[1])
    for r in range(10):
        if r > 0:
            k0, k1 = (k0 + W0) & MASK32, (k1 + W1) & MASK32
        p0 = np.uint64(M0) * c[0]  # < 2**64: both factors < 2**32
        p1 = np.uint64(M1) * c[2]
        hi0, lo0 = p0 >> np.uint64(32), p0 & np.uint64(MASK32)
        hi1, lo1 = p1 >> np.uint64(32), p1 & np.uint64(MASK32)
        c = np.stack([hi1 ^ c[1] ^ np.uint64(k0), lo1, hi0 ^ c[3] ^ np.uint64(k1), lo0])
    return c.T


def uniforms(n, seed, offset):
    """The n uniforms of stream positions offset .. offset + n - 1 (modulo 2**64), in float64."""
    positions = [(offset + i) % 2**64 for i in range(n)]
    calls = sorted({e // 4 for e in positions})
    counters = [(g & MASK32, g >> 32, 0, 0) for g in calls]
    words = philox4x32_10(counters, (seed & MASK32, seed >> 32)) if calls else np.zeros((0, 4))
    row = {g: j for j, g in enumerate(calls)}
    picked = np.array([int(words[row[e // 4], e % 4]) for e in positions], dtype=np.float64)
    return np.floor(picked / 256.0) / 2.0**24


def keep_mask(n, p, seed, offset):
    return (uniforms(n, seed, offset) >= p).astype(np.float64)


def dropout(x, p, seed, offset):
    if p == 1:
        return x * 0.0
    return x * keep_mask(x.size, p, seed, offset).reshape(x.shape) / (1.0 - p)


def dropout_backward(dout, p, seed, offset):
    """dropout is linear in x: its gradient is the same mask and scale applied to dout."""
    if p == 1:
        return dout * 0.0
    return dout * keep_mask(dout.size, p, seed, offset).reshape(dout.shape) / (1.0 - p)
