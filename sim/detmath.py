"""exp written out in plain IEEE operations, so numpy and numba give the same bits.

numpy's exp and the C library's exp that numba calls may differ in the last bit, and
a last-bit difference can flip a logit pick when a uniform draw falls on a
boundary. The model therefore computes the exponentials that decide choices (logit
weights, personal fit) with this function: Cody–Waite range reduction and a
degree-13 polynomial, accurate to a few units in the last place, evaluated with the
same operations in the same order by both engines (``sim.fastchoice`` has the
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
# 1/k! for k = 13 down to 2, for Horner's rule
COEFFS = tuple(1.0 / float(np.prod(np.arange(1, k + 1, dtype=np.float64))) for k in range(13, 1, -1))


def exp(x: np.ndarray) -> np.ndarray:
    """Elementwise e**x in float64, bit-identical to ``sim.fastchoice.det_exp``."""
    x = np.asarray(x, dtype=np.float64)
    low = x < EXP_MIN
    xc = np.clip(x, EXP_MIN, EXP_MAX)
    k = np.floor(xc * INV_LN2 + 0.5)
    r = (xc - k * LN2_HI) - k * LN2_LO
    p = np.full_like(r, COEFFS[0])
    for c in COEFFS[1:]:
        p = p * r + c
    p = p * r + 1.0
    p = p * r + 1.0
    out = np.ldexp(p, k.astype(np.int64))
    out[low] = 0.0
    return out
