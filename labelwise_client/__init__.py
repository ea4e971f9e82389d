"""A Python client of Labelwise's REST API for analysis scripts and notebooks.

Depends on httpx only (numpy and pandas for arrays and frames, imported when asked for); it never
imports the server. ``Client(url, token=...)`` or ``LABELWISE_URL`` / ``LABELWISE_TOKEN``.
"""

from labelwise_client.client import Client
from labelwise_client.errors import LabelwiseError
from labelwise_client.jobs import Job
from labelwise_client.tables import Rows

__all__ = ["Client", "Job", "LabelwiseError", "Rows"]
