"""Generated docs match the code (schema defaults, metric docstrings)."""

from __future__ import annotations

from scripts.make_docs import DOCS, ROOT


def test_generated_docs_are_up_to_date():
    for name, make in DOCS.items():
        committed = (ROOT / "docs" / name).read_text()
        assert committed == make(), f"docs/{name} is out of date: run `make docs`"
