"""Imports every table module so that ``SQLModel.metadata`` knows them all (Alembic, tests).

A new concept with tables adds one import line here.
"""

from backend.storage import tables  # noqa: F401
