"""The web process never imports an ML library: only workers do (README, docs/architecture.md).

Checked in a fresh interpreter, since the test process itself imports them for other tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ML_LIBRARIES = ("torch", "tensorflow", "keras", "umap", "sklearn")
ROOT = Path(__file__).resolve().parents[2]

# Build the app the way `labelwise serve` does, list what its pages list (algorithms and tasks:
# their registries are plain data), describe the doors, then report what got imported.
PROBE = """
import json, sys
from backend.app import create_app
from backend.algorithms.registry import list_algorithms
from backend.jobs.tasks import list_tasks
from backend.api.graphql.schema import sdl
app = create_app()
app.openapi_schema
list_algorithms(), list_tasks(), sdl()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in %r)))
"""


def imported_ml_modules(tmp_path: Path, probe: str = PROBE) -> list[str]:
    env = {**os.environ, "LABELWISE_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("LABELWISE_ALGORITHM_MODULES", None)
    done = subprocess.run(
        [sys.executable, "-c", probe % (ML_LIBRARIES,)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_and_building_the_web_app_loads_no_ml_library(tmp_path: Path):
    assert imported_ml_modules(tmp_path) == []


def test_the_probe_sees_an_ml_import(tmp_path: Path):
    # The check can fail: a probe that imports scikit-learn is caught.
    probe = "import sklearn.base\n" + PROBE.split("\n", 1)[1]
    assert "sklearn" in imported_ml_modules(tmp_path, probe)
