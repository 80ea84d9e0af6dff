"""Write docs/parameters.md, metrics.md, ODD.md, sweeps.md and teaching.md from the schema, the metric
docstrings, the experiment-file models and the teaching app's lessons (each run to its horizon).

Run with `make docs`; a test fails when the committed docs are out of date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.metrics import MARKET_METRICS, column_docs  # noqa: E402
from sim.scenario import CategoryConfig, RetailerConfig, field_limits, parameter_table  # noqa: E402


def parameters_md() -> str:
    lines = [
        "# Scenario parameters",
        "",
        "Generated from the schema in `sim/scenario.py` by `make docs`; do not edit by hand.",
        "Set them in a scenario TOML file (`[consumers]` then `n = 5000`), on the command line",
        "(`--set consumers.n=5000`), or as flat keyword arguments of the model",
        "(`RetailMarket(consumers_n=5000)`; `__` separates the levels of a table,",
        "e.g. `region_floor_area_m2__centre`).",
        "",
        "| parameter | default | limits | meaning |",
        "|---|---|---|---|",
    ]
    for row in parameter_table():
        default = row["default"]
        if row["key"] == "retailers":
            default = f"{len(default)} retailers (see `scenarios/chains.toml`)"
        else:
            default = json.dumps(default, ensure_ascii=False)
        lines.append(f"| `{row['key']}` | `{default}` | {row['limits']} | {row['description']} |")
    for table, model in (("retailers", RetailerConfig), ("categories", CategoryConfig)):
        lines += ["", f"## The fields of a `[[{table}]]` table", "",
                  "| field | default | limits | meaning |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            default = "(required)" if field.is_required() else json.dumps(field.get_default(call_default_factory=True),
                                                                          ensure_ascii=False)
            lines.append(f"| `{name}` | `{default}` | {', '.join(field_limits(field))} | {field.description or ''} |")
    return "\n".join(lines) + "\n"


def metrics_md() -> str:
    lines = [
        "# Output columns of metrics.parquet / metrics.csv",
        "",
        "Generated from the metric docstrings in `sim/metrics.py` by `make docs`; do not edit by hand.",
        "One row per week × retailer, plus a market row per week with `retailer = all`.",
        "Market-only columns are empty (NaN) on retailer rows. Rates are fractions, money is € per week.",
        "",
        "| column | rows | meaning |",
        "|---|---|---|",
    ]
    for name, doc in column_docs().items():
        rows = "market" if name in MARKET_METRICS else "all"
        lines.append(f"| `{name}` | {rows} | {doc} |")
    return "\n".join(lines) + "\n"


def odd_md() -> str:
    """docs/ODD.md: the hand-written template with the schema's parameter table filled in."""
    template = (ROOT / "docs" / "odd_template.md").read_text()
    table = parameters_md().split("\n", 2)[2].lstrip("\n")  # drop the page title
    notice = "<!-- generated from docs/odd_template.md by `make docs`; edit the template -->\n"
    return notice + template.replace("{{PARAMETERS}}", table.strip())


def sweep_format_table() -> str:
    """The keys of an experiment file, from the models in sim/sweep.py."""
    from pydantic_core import PydanticUndefined

    from sim.sweep import CalibrationSpec, Design, Range, SweepSpec

    lines = ["| key | default | meaning |", "|---|---|---|"]
    for prefix, model in (("", SweepSpec), ("factors.NAME.", Range), ("design.", Design),
                          ("calibration.", CalibrationSpec)):
        for name, field in model.model_fields.items():
            if model is SweepSpec and name in ("design", "calibration"):
                continue
            if field.default is not PydanticUndefined:
                default = f"`{json.dumps(field.default)}`"
            elif field.default_factory is not None:
                default = f"`{json.dumps(field.default_factory())}`"
            else:
                default = "required"
            meaning = field.description or ""
            if model is Design and name == "method":
                meaning = "full_factorial, morris, sobol or lhs (Latin hypercube)"
            lines.append(f"| `{prefix}{name}` | {default} | {meaning} |")
    return "\n".join(lines)


def sweeps_md() -> str:
    """docs/sweeps.md: the hand-written guide with the experiment-file keys filled in."""
    template = (ROOT / "docs" / "sweeps_template.md").read_text()
    notice = "<!-- generated from docs/sweeps_template.md by `make docs`; edit the template -->\n"
    return notice + template.replace("{{FORMAT}}", sweep_format_table())


def teaching_md() -> str:
    """docs/teaching.md: the lesson guide with the figures the app's readouts show at each lesson's end."""
    from sim.scenario import load
    from sim.viz.lessons import render_guide

    template = (ROOT / "docs" / "teaching_template.md").read_text()
    notice = ("<!-- generated from docs/teaching_template.md by `make docs`: each figure is what the app shows at "
              "the end of its lesson; edit the template -->\n")
    return notice + render_guide(template, load(ROOT / "scenarios" / "classroom.toml"))


DOCS = {"parameters.md": parameters_md, "metrics.md": metrics_md, "ODD.md": odd_md, "sweeps.md": sweeps_md,
        "teaching.md": teaching_md}


def main() -> None:
    for name, make in DOCS.items():
        (ROOT / "docs" / name).write_text(make())
        print(f"wrote docs/{name}")


if __name__ == "__main__":
    main()
