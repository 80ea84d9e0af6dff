"""Generated docs match the code (schema defaults, metric docstrings)."""

from __future__ import annotations

from scripts.make_docs import DOCS, ROOT


def test_generated_docs_are_up_to_date():
    for name, make in DOCS.items():
        committed = (ROOT / "docs" / name).read_text()
        assert committed == make(), f"docs/{name} is out of date: run `make docs`"


def test_odd_names_only_parameters_that_exist():
    import re

    from sim.metrics import column_docs
    from sim.scenario import CategoryConfig, RetailerConfig, parameter_table

    keys = {row["key"] for row in parameter_table()}
    leaves = {k.rsplit(".", 1)[-1] for k in keys} | set(RetailerConfig.model_fields) | set(CategoryConfig.model_fields)
    sections = {k.split(".")[0] for k in keys} | {".".join(k.split(".")[:2]) for k in keys}
    other_words = {  # values, zones, verbs and modules the ODD names in backticks
        "centre", "neighbourhood", "retail_park", "never", "loss_threshold", "none", "unconditional", "vesting",
        "mass", "loyalty", "learning", "inertia", "budget_eur", "p_shop", "all", "make docs", "rationalise",
        "online_shift", "shopping_centre", "demography", "high_street", "vacancy_by_town.csv", "summary.json",
        "vacancy_by_category.csv", "metrics.parquet", "flows.csv", "switching.csv",
    }
    metrics = set(column_docs())  # output columns the ODD may name too
    text = (ROOT / "docs" / "odd_template.md").read_text()
    unknown = []
    for token in re.findall(r"`([^`]+)`", text):
        if not re.fullmatch(r"[a-z_]+(\.[a-z_0-9]+)*", token) or "/" in token:
            continue
        if token in keys or token in leaves or token in sections or token in other_words or token in metrics:
            continue
        unknown.append(token)
    assert not unknown, f"docs/odd_template.md names parameters the schema does not have: {unknown}"


def test_every_data_file_names_its_source_parses_and_is_listed():
    import pandas as pd

    listed = (ROOT / "data" / "README.md").read_text()
    for path in sorted((ROOT / "data").glob("*.csv")):
        header = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
        assert any("source" in line.lower() for line in header), f"{path.name}: no source in its header"
        frame = pd.read_csv(path, comment="#")
        assert len(frame) > 0 and len(frame.columns) > 1, path.name
        assert f"`{path.name}`" in listed, f"{path.name} is not in data/README.md"
