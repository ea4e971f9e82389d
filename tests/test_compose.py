"""compose.yaml parses, and every labelwise command it names exists in the package."""

from __future__ import annotations

from pathlib import Path

import click
import yaml

from backend import cli

ROOT = Path(__file__).resolve().parents[1]


def _resolve(command: list[str]) -> click.Command:
    assert command[0] == "labelwise", command
    current: click.Command = cli.main
    for word in command[1:]:
        if word.startswith("-") or not isinstance(current, click.Group):
            break
        sub = current.get_command(click.Context(current), word)
        assert sub is not None, f"compose.yaml names `{' '.join(command)}`, but `{word}` is not a command"
        current = sub
    return current


def test_compose_file_describes_the_lab_deployment():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker"} <= set(services)
    env = services["web"]["environment"]
    assert env["LABELWISE_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert env["LABELWISE_BROKER_URL"].startswith("redis://")
    assert "${POSTGRES_PASSWORD" in env["LABELWISE_DATABASE_URL"]  # no password in the file


def test_commands_named_in_compose_exist_with_their_options():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    for name in ("web", "worker"):
        command = compose["services"][name]["command"]
        resolved = _resolve(command)
        known = {opt for p in resolved.params for opt in getattr(p, "opts", [])}
        for word in command:
            if word.startswith("--"):
                assert word in known, f"{name}: `{word}` is not an option of `{resolved.name}`"


def test_every_service_comes_back_after_it_dies():
    """The OOM killer ending one worker process stops the whole `labelwise worker` (Dramatiq shuts
    all down); without a restart policy the worker stayed down and every later job stayed queued."""
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        assert service.get("restart") in ("unless-stopped", "always"), f"{name} is not restarted"
