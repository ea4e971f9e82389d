"""A client generated from openapi/openapi.json by openapi-python-client works against the served app.

Generated offline into a temporary folder (the generator needs no network) with the committed
generator settings, imported, and run: list datasets, download the CSV export as bytes, import a
CSV as a multipart upload, and see a viewer's 403 as a typed problem.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from labelwise_client import Client
from tests.factories import image_folder

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    out = tmp_path_factory.mktemp("generated") / "labelwise_api"
    done = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--meta", "none",
         "--path", str(ROOT / "openapi" / "openapi.json"),
         "--config", str(ROOT / "openapi" / "openapi-python-client.yaml"),
         "--output-path", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # Every operation is generated: nothing was skipped as unsupported.
    assert "will not be generated" not in done.stdout + done.stderr, done.stdout + done.stderr
    assert "response will be omitted" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(out.parent))
    try:
        yield importlib.import_module("labelwise_api")
    finally:
        sys.path.remove(str(out.parent))
        for name in [m for m in sys.modules if m == "labelwise_api" or m.startswith("labelwise_api.")]:
            del sys.modules[name]


def test_the_generated_client_lists_downloads_imports_and_sees_a_403(
    generated: ModuleType, server: str, accounts, folder: Path
):
    from labelwise_api import AuthenticatedClient
    from labelwise_api.api.datasets import list_datasets
    from labelwise_api.api.items import image
    from labelwise_api.api.transfer import export, import_csv
    from labelwise_api.models import ImportCsvFilesBody, LabelImportReport, Problem
    from labelwise_api.types import File

    image_folder(folder, count=4)
    with Client(server, token=accounts["admin"].token) as admin:
        dataset = admin.create_dataset("generated", [str(folder)])
        admin.add_class(dataset, "cat")
        ids = [row["id"] for row in admin.items(dataset)]

    as_admin = AuthenticatedClient(
        base_url=server, token=accounts["admin"].token, raise_on_unexpected_status=True
    )
    as_viewer = AuthenticatedClient(
        base_url=server, token=accounts["viewer"].token, raise_on_unexpected_status=True
    )

    listed = list_datasets.sync(client=as_viewer)
    assert [(d.id, d.name, d.item_count) for d in listed] == [(dataset["id"], "generated", 4)]

    csv = f"item_id,label\n{ids[0]},cat\n{ids[1]},cat\n".encode()
    upload = ImportCsvFilesBody(file=File(payload=BytesIO(csv), file_name="labels.csv", mime_type="text/csv"))
    report = import_csv.sync(dataset["id"], client=as_admin, body=upload)
    assert isinstance(report, LabelImportReport), report
    assert (report.accepted, report.refused, report.event_id is not None) == (2, [], True)

    exported = export.sync(dataset["id"], client=as_viewer)  # CSV, the default format: bytes
    assert isinstance(exported, File) and isinstance(exported.payload.read(0), bytes)
    text = exported.payload.getvalue().decode()
    assert text.startswith("item_id,") and text.count(",cat,") == 2

    png = image.sync(ids[0], client=as_viewer)
    assert isinstance(png, File) and png.payload.getvalue().startswith(b"\x89PNG")

    refused = import_csv.sync_detailed(dataset["id"], client=as_viewer, body=upload)
    assert refused.status_code == 403
    assert isinstance(refused.parsed, Problem)
    assert (refused.parsed.code, refused.parsed.status) == (
        "FORBIDDEN",
        403,
    ) and "labeler" in refused.parsed.detail

    wrong_part = httpx.post(
        f"{server}/api/v1/datasets/{dataset['id']}/import",
        files={"upload": ("labels.csv", csv, "text/csv")},
        headers={"Authorization": f"Bearer {accounts['admin'].token}"},
        timeout=30,
    )
    assert wrong_part.status_code == 400 and wrong_part.json()["code"] == "INVALID"

    anonymous = list_datasets.sync_detailed(client=generated.Client(base_url=server))
    assert anonymous.status_code == 401 and anonymous.parsed.code == "UNAUTHENTICATED"
