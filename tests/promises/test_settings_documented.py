"""Every setting in ``backend/settings.py`` is a row of README's configuration table.

A row may name several settings: ``LABELWISE_MAX_FORM_BYTES`` / ``_MAX_FORM_FIELDS`` documents
``LABELWISE_MAX_FORM_FIELDS`` too (a suffix replaces the tail of the first full name after one of
its underscores).
"""

from __future__ import annotations

import re
from pathlib import Path

from backend.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def documented_names(readme: str) -> set[str]:
    """The ``LABELWISE_*`` names in the first cell of each row of the configuration section."""
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cell = line.split("|")[1]
        full = [n for n in re.findall(r"`([A-Z0-9_]+)`", cell) if n.startswith("LABELWISE_")]
        names.update(full)
        for suffix in re.findall(r"`(_[A-Z0-9_]+)`", cell):
            first = full[0]
            cuts = [i for i, char in enumerate(first) if char == "_" and i >= len("LABELWISE")]
            names.update(first[:cut] + suffix for cut in cuts)
    return names


def setting_names() -> set[str]:
    prefix = Settings.model_config["env_prefix"]
    return {(prefix + name).upper() for name in Settings.model_fields}


def test_every_setting_has_a_row_in_the_readme_configuration_table():
    missing = sorted(setting_names() - documented_names(README.read_text()))
    assert not missing, f"settings missing from README's configuration table: {missing}"


def test_the_table_names_only_settings_that_exist():
    # Suffix rows expand to several candidates; full names must all be real settings.
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    full = {n for cell in rows for n in re.findall(r"`(LABELWISE_[A-Z0-9_]+)`", cell)}
    assert full and not full - setting_names(), sorted(full - setting_names())


def test_a_suffix_names_the_setting_that_shares_the_first_names_stem():
    row = "| `LABELWISE_GUARD_CENTROID_MADS` / `_NEIGHBOURS` | 3 |\n"
    assert "LABELWISE_GUARD_NEIGHBOURS" in documented_names("## Configuration\n" + row)
    alone = "| `LABELWISE_GUARD_CENTROID_MADS` | 3 |\n"
    assert "LABELWISE_GUARD_NEIGHBOURS" not in documented_names("## Configuration\n" + alone)
