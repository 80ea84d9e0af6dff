"""How many threads the compiled loops of one run use.

A compiled parallel loop waits at its end for every thread it started. For a small population each
loop is a few microseconds of work, so the wait is all there is to it, and on a machine whose cores are
busy with other work (a second run, a test, a browser) it is a whole scheduler time slice, every loop,
every week: a small run ten times slower than on one thread. Small runs therefore use one thread. The
number of threads never changes a result (every kernel sums in fixed chunks), only the time.
"""

from __future__ import annotations

import functools

import numba

PARALLEL_FROM_CONSUMERS = 20_000  # below this, a week's compiled loops are too short to share out


def one_thread_when_small(method):
    """Run a model method on one thread when the model's population is small (the caller's count
    is restored after; numba's thread count is per calling thread)."""

    @functools.wraps(method)
    def run(model, *args, **kwargs):
        if model.population.n >= PARALLEL_FROM_CONSUMERS:
            return method(model, *args, **kwargs)
        before = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            return method(model, *args, **kwargs)
        finally:
            numba.set_num_threads(before)

    return run
