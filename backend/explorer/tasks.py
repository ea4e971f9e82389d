"""The explorer's jobs: "project" (PCA or UMAP to 2-D/3-D) and "cluster" (KMeans, DBSCAN, HDBSCAN).

Both run on the latest inference output of a model on a dataset (its ``vectors.npy``) and write
per-item results aligned with ``item_ids.npy``. Schemas are checked before anything is queued.
"""

from __future__ import annotations

from backend.jobs.task_spec import Task

PROJECT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "method": {
            "type": "string",
            "title": "Method",
            "description": "PCA is linear and fast; UMAP keeps local neighbourhoods (clusters) apart.",
            "enum": ["pca", "umap"],
            "default": "pca",
        },
        "dimensions": {
            "type": "integer",
            "title": "Dimensions",
            "description": "2 for the scatter plot; 3 is stored too (the plot shows the first two).",
            "enum": [2, 3],
            "default": 2,
        },
        "n_neighbors": {
            "type": "integer",
            "title": "UMAP neighbours",
            "description": "Size of the local neighbourhood UMAP preserves (larger: more global).",
            "default": 15,
            "minimum": 2,
            "maximum": 200,
        },
        "min_dist": {
            "type": "number",
            "title": "UMAP minimum distance",
            "description": "How tightly UMAP packs points together.",
            "default": 0.1,
            "minimum": 0.0,
            "maximum": 1.0,
        },
        "metric": {
            "type": "string",
            "title": "UMAP metric",
            "enum": ["cosine", "euclidean", "manhattan", "correlation"],
            "default": "cosine",
        },
        "seed": {"type": "integer", "title": "Seed", "default": 0, "minimum": 0},
    },
}

CLUSTER_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "method": {
            "type": "string",
            "title": "Method",
            "description": "KMeans needs k; DBSCAN and HDBSCAN find the number of clusters and mark noise.",
            "enum": ["kmeans", "dbscan", "hdbscan"],
            "default": "kmeans",
        },
        "k": {"type": "integer", "title": "KMeans k", "default": 8, "minimum": 2, "maximum": 500},
        "eps": {
            "type": "number",
            "title": "DBSCAN eps",
            "description": "Neighbourhood radius in cosine distance (vectors are L2-normalised first).",
            "default": 0.1,
            "exclusiveMinimum": 0,
            "maximum": 2,
        },
        "min_samples": {
            "type": "integer",
            "title": "Minimum samples",
            "description": "DBSCAN / HDBSCAN: points in a neighbourhood for a core point.",
            "default": 5,
            "minimum": 1,
            "maximum": 1000,
        },
        "min_cluster_size": {
            "type": "integer",
            "title": "HDBSCAN minimum cluster size",
            "default": 15,
            "minimum": 2,
            "maximum": 100000,
        },
        "seed": {"type": "integer", "title": "Seed", "default": 0, "minimum": 0},
    },
}

PROJECT = Task(
    kind="project", title="Projection", entry_point="workers.explorer:project", schema=PROJECT_SCHEMA
)
CLUSTER = Task(
    kind="cluster", title="Clustering", entry_point="workers.explorer:cluster", schema=CLUSTER_SCHEMA
)
