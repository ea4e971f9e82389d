"""Datasets and their items tested per concept: the domain, REST and GraphQL side by side."""

from tests.helpers.rest import client_with  # noqa: F401  (fixture: the app on changed settings)
