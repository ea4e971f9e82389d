"""Accounts for tests (one user per role, each with an API token), from tests/helpers/accounts.py, and
the other fixtures these tests use."""

from __future__ import annotations

from tests.helpers.accounts import PASSWORD, Account, accounts, csrf_headers  # noqa: F401
from tests.helpers.cli import run_cli  # noqa: F401
from tests.helpers.jobs import image_dataset, job_settings  # noqa: F401  (fixtures used here too)
from tests.helpers.tiled import tiled_server, tiled_tree  # noqa: F401
