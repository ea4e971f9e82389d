"""The "build-index" job: an hnswlib cosine index over a model's latest feature vectors.

Its parameters are checked before anything is queued; the worker function writes the index
beside the vectors it indexes (``index.bin`` + ``index.json``), where the server finds it.
"""

from __future__ import annotations

from backend.jobs.task_spec import Task
from backend.similarity.index import IndexParams

_DEFAULTS = IndexParams()

BUILD_INDEX_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "m": {
            "type": "integer",
            "title": "M",
            "description": "Links per node of the graph: more gives better recall and a bigger index.",
            "default": _DEFAULTS.m,
            "minimum": 2,
            "maximum": 100,
        },
        "ef_construction": {
            "type": "integer",
            "title": "ef construction",
            "description": "Candidates kept while building: more gives a better graph, built slower.",
            "default": _DEFAULTS.ef_construction,
            "minimum": 10,
            "maximum": 2000,
        },
        "ef": {
            "type": "integer",
            "title": "Query ef",
            "description": "Candidates kept per query (at least the number of results asked for).",
            "default": _DEFAULTS.ef,
            "minimum": 1,
            "maximum": 5000,
        },
    },
}

BUILD_INDEX = Task(
    kind="build-index",
    title="Similarity index",
    entry_point="workers.tasks.build_index:build_index",
    schema=BUILD_INDEX_SCHEMA,
)
