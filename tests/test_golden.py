"""A small golden baseline: the model's figures change only when someone means them to.

If this fails after an intended change to the model, run `make golden`, review the
diff of tests/golden/small_run.json and commit it with the change.
"""

from __future__ import annotations

import json

import pytest

from tests.golden_case import GOLDEN_PATH, golden_figures


def _flatten(value, prefix=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten(v, f"{prefix}{k}.")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _flatten(v, f"{prefix}{i}.")
    else:
        yield prefix.rstrip("."), value


def test_small_run_matches_golden_baseline():
    expected = dict(_flatten(json.loads(GOLDEN_PATH.read_text())))
    actual = dict(_flatten(golden_figures()))
    assert set(actual) == set(expected)
    for key, want in expected.items():
        got = actual[key]
        if isinstance(want, float) and isinstance(got, float):
            assert got == pytest.approx(want, rel=1e-6, abs=1e-9), key
        else:
            assert got == want, key
