"""The small run whose figures are pinned in tests/golden/small_run.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.metrics import ALL
from sim.model import RetailMarket
from sim.outputs import build_summary
from tests.conftest import small_scenario

GOLDEN_PATH = Path(__file__).resolve().parent / "golden" / "small_run.json"
SERIES = ["revenue_eur", "online_share", "vacancy_rate", "attrition_rate", "operating_margin", "markup"]


def golden_figures() -> dict[str, Any]:
    model = RetailMarket(small_scenario(), seed=7)
    model.run()
    frame = model.metrics.to_frame()
    summary = build_summary(model, frame, runtime_s=0.0)
    for volatile in ("runtime_s", "version"):
        summary.pop(volatile)
    market = frame[(frame["retailer"] == ALL) & (frame["week"] % 13 == 0)]
    series = {col: [None if v != v else round(float(v), 9) for v in market[col]] for col in SERIES}
    return {"summary": summary, "quarterly_market": series}
