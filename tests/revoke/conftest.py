"""Revoke tests run on the guided-labeling fixtures: a server with in-process jobs and real models."""

from tests.helpers.guided import dataset, guided_settings, server  # noqa: F401
