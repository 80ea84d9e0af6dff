"""Refresh the golden baseline on purpose: `make golden`, then review and commit the diff.

The golden file pins the final-year summary and the quarterly market series of a
small run. Never edit tests/golden/ by hand: a change in it must come from a change
in the model that you meant to make.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.golden_case import GOLDEN_PATH, golden_figures  # noqa: E402


def main() -> None:
    figures = golden_figures()
    GOLDEN_PATH.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN_PATH.relative_to(ROOT)}; review `git diff` before committing")


if __name__ == "__main__":
    main()
