"""exp written out in plain IEEE operations, so numpy and numba give the same bits.

numpy's exp and the C library's exp that numba calls may differ in the last bit, and
a last-bit difference can flip a logit pick when a uniform draw falls on a
boundary. The model therefore computes the exponentials that decide choices (logit
weights, personal fit) with this function: Cody–Waite range reduction, a
degree-13 polynomial and a table of powers of two, accurate to about one unit in the last place, evaluated with the
same operations in the same order by both engines (Estrin's scheme keeps the
polynomial's dependency chains short) (``sim.fastchoice`` has the
scalar twin). It is also several times faster than the C library's exp inside the
compiled kernel.
"""

from __future__ import annotations

import numpy as np

LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
INV_LN2 = 1.44269504088896338700e00
EXP_MIN = -745.0  # below this exp underflows to 0
EXP_MAX = 709.0
ROUND_MAGIC = 6755399441055744.0  # 1.5·2**52: (y + M) − M rounds y to the nearest integer
POW2_OFFSET = 1074
POW2 = np.ldexp(1.0, np.arange(-POW2_OFFSET, 1024))  # 2**k, exact, for k = −1074 … 1023
# a[k] = 1/k! for k = 0..13
A = tuple(1.0 / float(np.prod(np.arange(1, k + 1, dtype=np.float64))) for k in range(14))


# _reduce and _poly take a scalar or an array: numpy evaluates them here, and
# sim.fastchoice compiles these very functions with numba, so both run the same operations.

def _reduce(x):
    """x = k·ln 2 + r with k a whole number (Cody–Waite); returns (k, r), |r| ≤ ln 2 / 2."""
    k = (x * INV_LN2 + ROUND_MAGIC) - ROUND_MAGIC
    return k, (x - k * LN2_HI) - k * LN2_LO


def _poly(r):
    """sum of a[k]·r**k for k ≤ 13 by Estrin's scheme (short dependency chains, so fast)."""
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    s0 = (A[0] + A[1] * r) + (A[2] + A[3] * r) * r2
    s1 = (A[4] + A[5] * r) + (A[6] + A[7] * r) * r2
    s2 = (A[8] + A[9] * r) + (A[10] + A[11] * r) * r2
    s3 = A[12] + A[13] * r
    return (s0 + s1 * r4) + (s2 + s3 * r4) * r8


def exp(x: np.ndarray) -> np.ndarray:
    """Elementwise e**x in float64, bit-identical to ``sim.fastchoice.det_exp``."""
    x = np.asarray(x, dtype=np.float64)
    low = x < EXP_MIN
    k, r = _reduce(np.clip(x, EXP_MIN, EXP_MAX))
    out = _poly(r) * POW2[k.astype(np.int64) + POW2_OFFSET]
    out[low] = 0.0
    return out
