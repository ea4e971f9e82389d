"""Import and export of labels tested per concept: the domain and REST side by side."""

from tests.helpers.rest import client_with  # noqa: F401  (fixture: the app on changed settings)
