"""Both choice engines, and the numba engine at any thread count, give the same run."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys

import pandas as pd

from sim.model import RetailMarket

from .conftest import ROOT, small_scenario


def _frame(engine: str, seed: int = 7, **overrides) -> pd.DataFrame:
    model = RetailMarket(small_scenario(engine=engine, steps=60, **overrides), seed=seed)
    model.run()
    assert model.engine == engine
    return model.metrics.to_frame()


def test_numpy_and_numba_engines_give_identical_runs():
    pd.testing.assert_frame_equal(_frame("numpy"), _frame("numba"), check_exact=True)


def test_engines_agree_when_sets_and_repertoires_are_smaller_than_the_market():
    # one store and one web shop considered, two slots for three retailers: strangers and evictions every week
    small = {"choice.consideration_stores": 1, "choice.consideration_online": 1, "consumers.repertoire_slots": 2,
             "strategies.loyalty.welcome": "vesting"}
    numpy_frame = _frame("numpy", **small)
    pd.testing.assert_frame_equal(numpy_frame, _frame("numba", **small), check_exact=True)
    assert not numpy_frame.equals(_frame("numpy"))  # the small sets do change the market


def test_auto_engine_picks_numba_only_for_large_populations():
    assert RetailMarket._pick_engine(small_scenario(**{"consumers.n": 999})) == "numpy"
    assert RetailMarket._pick_engine(small_scenario()) == "numba"


SCRIPT = """
import hashlib, io, sys
sys.path.insert(0, {root!r})
from sim.model import RetailMarket
from tests.conftest import small_scenario
m = RetailMarket(small_scenario(engine="numba", steps=40), seed=5)
m.run()
buf = io.BytesIO()
m.metrics.to_frame().to_parquet(buf, index=False)
print(hashlib.sha256(buf.getvalue()).hexdigest())
"""


def test_thread_count_never_changes_results():
    digests = set()
    for threads in ("1", "2"):
        env = {**os.environ, "NUMBA_NUM_THREADS": threads}
        out = subprocess.run([sys.executable, "-c", SCRIPT.format(root=str(ROOT))], capture_output=True,
                             text=True, env=env, check=True, timeout=300)
        digests.add(out.stdout.strip().splitlines()[-1])
    m = RetailMarket(small_scenario(engine="numba", steps=40), seed=5)
    m.run()
    buf = io.BytesIO()
    m.metrics.to_frame().to_parquet(buf, index=False)
    digests.add(hashlib.sha256(buf.getvalue()).hexdigest())
    assert len(digests) == 1


def test_the_shared_exp_gives_the_same_bits_in_both_engines_and_is_accurate():
    import numpy as np

    from sim import detmath
    from sim.fastchoice import _det_exp_array

    x = np.concatenate([-np.logspace(-12, 2.84, 20_000), np.linspace(-60, 60, 20_001), [0.0, -np.inf, -800.0]])
    compiled = np.empty_like(x)
    _det_exp_array(x, compiled)
    vectorised = detmath.exp(x)
    assert np.array_equal(vectorised.view(np.int64), compiled.view(np.int64))
    finite = x > -700
    assert np.max(np.abs(vectorised[finite] / np.exp(x[finite]) - 1)) < 1e-15
    assert vectorised[-3] == 1.0 and vectorised[-2] == 0.0 and vectorised[-1] == 0.0



WARM_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from numba.core.registry import CPUDispatcher
from sim.cli import default_scenario_path
from sim.fastchoice import warm
from sim.model import RetailMarket
from sim.scenario import load

def compiled():
    return {{f"{{name}}.{{attr}}": set(value.signatures) for name, module in list(sys.modules.items())
            if name == "sim" or name.startswith("sim.")
            for attr, value in vars(module).items() if isinstance(value, CPUDispatcher)}}

warm()
warmed = compiled()
RetailMarket(load(default_scenario_path(), {{"consumers.n": 1000, "steps": 104, "engine": "numba"}}), seed=1).run()
for name, signatures in sorted(compiled().items()):
    if signatures - warmed.get(name, set()):
        print(name, sorted(map(str, signatures - warmed.get(name, set()))))
"""


def test_make_setup_compiles_every_kernel_the_baseline_calls():
    # `make setup` fills the on-disk cache with sim.fastchoice.warm(); a kernel, or a signature, that warm()
    # does not call is compiled during the first real run instead (as the slot lookup of the first annual
    # attrition figure at week 52 was). Two years of the baseline region call nothing warm() has not.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", WARM_SCRIPT.format(root=str(ROOT))], capture_output=True,
                         text=True, env=env, check=True, timeout=600)
    assert out.stdout == ""
