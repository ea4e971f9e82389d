"""Imports every table module so that ``SQLModel.metadata`` knows them all (Alembic, tests).

A new concept with tables adds one import line here.
"""

import backend.storage.account_tables
import backend.storage.job_tables  # noqa: F401
from backend.storage import tables  # noqa: F401
