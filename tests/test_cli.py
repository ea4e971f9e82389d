"""The `labelwise` command line, run in process against the test database."""

from __future__ import annotations

import csv
import socket

import pytest
from click.testing import CliRunner

from backend import cli
from backend.settings import get_settings
from tests.factories import image_folder


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["demo"],
        ["migrate"],
        ["dataset"],
        ["dataset", "add"],
        ["export"],
        ["import"],
        ["openapi"],
    ],
)
def test_every_command_has_help(command):
    result = CliRunner().invoke(cli.main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_dataset_add_list_rename_delete(run_cli, folder):
    image_folder(folder, count=4, corrupt=1)
    out = run_cli("dataset", "add", "cli-ds", str(folder)).output
    assert "5 items, 1 unreadable" in out
    assert "cli-ds" in run_cli("dataset", "list").output
    assert "extended: 0 items" not in run_cli("dataset", "rescan", "cli-ds").output
    run_cli("dataset", "rename", "cli-ds", "renamed")
    assert "renamed" in run_cli("dataset", "list").output
    run_cli("dataset", "delete", "renamed", "--yes")
    assert "no datasets yet" in run_cli("dataset", "list").output


def test_bad_input_exits_nonzero_with_a_clear_message(run_cli, folder):
    result = run_cli("dataset", "add", "x", "/etc", ok=False)
    assert "FORBIDDEN" in result.output and "outside the data roots" in result.output
    assert "NOT_FOUND" in run_cli("dataset", "rename", "nope", "other", ok=False).output


def test_export_and_import_round_trip(run_cli, folder, tmp_path):
    image_folder(folder, count=3)
    run_cli("dataset", "add", "io", str(folder))
    labels = tmp_path / "labels.csv"
    labels.write_text("uri,label\nimg_000.png,ring\nsub/img_001.png,arc\nnope.png,ring\n")
    out = run_cli("import", "io", str(labels), "--create-classes").output
    assert "2 rows accepted, 1 refused" in out
    exported = tmp_path / "out.csv"
    run_cli("export", "io", "--format", "csv", "-o", str(exported))
    rows = list(csv.DictReader(exported.read_text().splitlines()))
    assert sorted(r["label"] for r in rows if r["label"]) == ["arc", "ring"]


def test_import_says_how_many_labeled_items_its_empty_label_rows_unlabeled(run_cli, folder, tmp_path):
    """An export lists every unlabeled item with an empty label: imported elsewhere it clears labels."""
    image_folder(folder, count=3)
    run_cli("dataset", "add", "clears", str(folder))
    labels = tmp_path / "labels.csv"
    labels.write_text("uri,label\nimg_000.png,ring\nsub/img_001.png,arc\n")
    assert "unlabeled" not in run_cli("import", "clears", str(labels), "--create-classes").output
    labels.write_text("uri,label\nimg_000.png,\nsub/img_001.png,arc\nimg_002.png,\n")
    out = run_cli("import", "clears", str(labels)).output
    assert "3 rows accepted, 0 refused" in out
    assert "unlabeled 1 items that had labels" in out


def test_export_as_of_reads_times_as_rest_reads_them(run_cli, folder, tmp_path):
    """--as-of takes REST's times (a zone, a date alone); a bad one names the forms it takes."""
    image_folder(folder, count=3)
    run_cli("dataset", "add", "asof", str(folder))
    labels = tmp_path / "labels.csv"
    labels.write_text("uri,label\nimg_000.png,ring\n")
    run_cli("import", "asof", str(labels), "--create-classes")
    out = tmp_path / "out.csv"
    for moment, expected in (("2001-01-01T00:00+02:00", []), ("2999-01-01T02:00+02:00", ["ring"])):
        run_cli("export", "asof", "--as-of", moment, "-o", str(out), "--labeled-only")
        assert [r["label"] for r in csv.DictReader(out.read_text().splitlines())] == expected, moment
    refused = run_cli("export", "asof", "--as-of", "yesterday", "-o", str(tmp_path / "no.csv"), ok=False)
    assert "not a time" in refused.output and "ISO 8601" in refused.output


def test_export_formats_and_refusals_leave_no_partial_file(run_cli, folder, tmp_path):
    import io
    import zipfile

    import pyarrow.parquet as pq

    image_folder(folder, count=3)
    run_cli("dataset", "add", "fmt", str(folder))
    labels = tmp_path / "labels.csv"
    labels.write_text("uri,label\nimg_000.png,ring\n")
    assert "created classes: ring" in run_cli("import", "fmt", str(labels), "--create-classes").output
    parquet, archive = tmp_path / "out.parquet", tmp_path / "out.zip"
    run_cli("export", "fmt", "--format", "parquet", "-o", str(parquet), "--labeled-only")
    assert pq.read_table(parquet).column("label").to_pylist() == ["ring"]
    run_cli("export", "fmt", "--format", "zip", "-o", str(archive))
    names = zipfile.ZipFile(io.BytesIO(archive.read_bytes())).namelist()
    assert [n for n in names if n.startswith("ring/")] and "labels.csv" in names
    missing = tmp_path / "missing.csv"
    assert "NOT_FOUND" in run_cli("export", "nope", "-o", str(missing), ok=False).output
    assert not missing.exists() and not list(tmp_path.glob("*.part"))
    bad = tmp_path / "bad.csv"
    bad.write_text("uri,label\nimg_000.png,ring,extra\n")
    assert "INVALID: line 2" in run_cli("import", "fmt", str(bad), ok=False).output


def test_demo_makes_the_dataset_once(run_cli):
    first = run_cli("demo", "--no-serve", "--count", "12").output
    assert "Demo dataset 'xray-demo' is ready" in first
    run_cli("demo", "--no-serve", "--count", "12")
    listing = run_cli("dataset", "list").output
    assert listing.count("xray-demo") == 1 and "12 items" in listing


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("command", [["migrate"], ["dataset", "list"], ["jobs", "list"], ["user", "list"]])
def test_a_database_that_cannot_be_reached_is_named_in_one_line(command, tmp_path):
    """A deployer whose PostgreSQL is down (or whose URL is wrong) reads where the command looked
    and why, the password hidden, not a driver traceback."""
    port = _closed_port()
    url = f"postgresql+asyncpg://lab:pw-Not-Shown-7@127.0.0.1:{port}/labelwise"
    env = {"LABELWISE_DATABASE_URL": url, "LABELWISE_DATA_DIR": str(tmp_path / "data")}
    get_settings.cache_clear()
    try:
        result = CliRunner(env=env).invoke(cli.main, command)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    shown = f"postgresql+asyncpg://lab:***@127.0.0.1:{port}/labelwise"
    assert f"cannot reach the database at {shown}" in result.output
    assert "ConnectionRefusedError" in result.output
    assert "pw-Not-Shown-7" not in result.output
