"""The roles, their order, and the one table of which endpoint needs which role.

Every route needs a role. It is, in this order: the handler's ``opt["role"]``; else its entry in
``ROUTE_ROLES`` (method, path template); else the default of its HTTP method (reads: viewer,
anything else: labeler). So an endpoint added without thinking about roles is still closed to
viewers for writes, and to strangers for everything. GraphQL mutations likewise: ``MUTATION_ROLES``,
else labeler. See docs/decisions/0003-roles.md for why each elevated entry is where it is (and
0006 for the Tiled browser and the users page).
"""

from __future__ import annotations

import re

from backend.errors import Invalid

VIEWER, LABELER, TRAINER, ADMIN = "viewer", "labeler", "trainer", "admin"
ROLES: tuple[str, ...] = (VIEWER, LABELER, TRAINER, ADMIN)  # each may do what those before it may
PUBLIC = "public"  # no caller needed: the sign-in page, static files, CORS preflights

_RANK = {role: rank for rank, role in enumerate(ROLES)}
READ_METHODS = frozenset({"GET", "HEAD"})
_PARAM_TYPE = re.compile(r"\{(\w+):[^}]+\}")

# (method, path template without parameter types) -> role, where the method default is wrong.
ROUTE_ROLES: dict[tuple[str, str], str] = {
    # Datasets and their sources decide what the server reads from disk or Tiled: admins.
    ("POST", "/api/v1/datasets"): ADMIN,
    ("PATCH", "/api/v1/datasets/{dataset_id}"): ADMIN,
    ("DELETE", "/api/v1/datasets/{dataset_id}"): ADMIN,
    ("POST", "/api/v1/datasets/{dataset_id}/sources"): ADMIN,
    ("PATCH", "/api/v1/datasets/{dataset_id}/sources/{source_id}"): ADMIN,  # mask and PONI files
    ("POST", "/datasets/{dataset_id}/display"): ADMIN,
    ("POST", "/datasets/{dataset_id}/sources/{source_id}/detector"): ADMIN,
    ("POST", "/datasets"): ADMIN,
    ("POST", "/datasets/{dataset_id}/sources"): ADMIN,
    ("POST", "/datasets/{dataset_id}/delete"): ADMIN,
    ("GET", "/datasets/browse"): ADMIN,  # lists server folders for the "new dataset" form
    # The server asks a Tiled server for these (SSRF): whoever may add sources, and only they.
    ("GET", "/tiled/browse"): ADMIN,
    ("POST", "/tiled/browse"): ADMIN,
    # The users page: accounts are the admins' (the API's user routes declare it in their opt).
    ("GET", "/admin/users"): ADMIN,
    ("POST", "/admin/users/{name}/disable"): ADMIN,
    ("POST", "/admin/users/{name}/enable"): ADMIN,
    ("POST", "/admin/tokens/{token_id}/revoke"): ADMIN,
    # Jobs use the compute: trainers.
    ("POST", "/api/v1/jobs"): TRAINER,
    ("POST", "/api/v1/jobs/{job_id}/cancel"): TRAINER,
    ("POST", "/api/v1/jobs/{job_id}/retry"): TRAINER,
    ("POST", "/jobs/{job_id}/cancel"): TRAINER,
    ("POST", "/jobs/{job_id}/retry"): TRAINER,
    ("POST", "/datasets/{dataset_id}/train"): TRAINER,
    ("POST", "/models/{model_id}"): TRAINER,  # the model page's inference form
    ("POST", "/models/{model_id}/infer"): TRAINER,  # where that form posted before
    # Reads that take their question as a POST body.
    ("POST", "/api/v1/datasets/{dataset_id}/explorer/heatmap"): VIEWER,
    ("POST", "/api/v1/models/{model_id}/projection/selection"): VIEWER,
    ("POST", "/api/v1/datasets/{dataset_id}/batch-flags"): VIEWER,
    ("POST", "/datasets/{dataset_id}/explorer/gallery"): VIEWER,  # the selection's tiles and flags
    ("POST", "/graphql"): VIEWER,  # each mutation then needs its own role (MUTATION_ROLES)
    # The OpenAPI document describes the API; it holds no data.
    ("GET", "/api/schema"): PUBLIC,
    ("GET", "/api/schema/openapi.json"): PUBLIC,
    ("GET", "/api/schema/{path}"): PUBLIC,
}
PUBLIC_PREFIXES = ("/static/",)

# GraphQL mutation field -> role; a mutation not listed needs LABELER.
MUTATION_ROLES: dict[str, str] = {
    "createDataset": ADMIN,
    "updateDataset": ADMIN,
    "deleteDataset": ADMIN,
    "addSource": ADMIN,
    "updateSource": ADMIN,  # mask and PONI files: what the server reads
    "submitJob": TRAINER,
    "cancelJob": TRAINER,
    "retryJob": TRAINER,
    # Accounts: admins disable and enable users; everyone may revoke their own tokens.
    "disableUser": ADMIN,
    "enableUser": ADMIN,
    "revokeToken": VIEWER,
    "runFeatureReport": TRAINER,
    # Keep models fresh queues jobs by itself; the next step runs one: trainers.
    "setKeepFresh": TRAINER,
    "runNextStep": TRAINER,
}


def check_role(role: str) -> str:
    if role not in _RANK:
        raise Invalid(f"unknown role '{role}'; one of {', '.join(ROLES)}")
    return role


def allows(role: str, needed: str) -> bool:
    """Whether a caller with ``role`` may do what needs ``needed``."""
    if needed == PUBLIC:
        return True
    return _RANK.get(role, -1) >= _RANK[needed]


def route_role(method: str, path: str, opt: dict | None = None) -> str:
    """The role one route handler needs (see the module docstring for the order)."""
    method, path = method.upper(), path_template(path)
    declared = (opt or {}).get("role")
    if declared:
        return declared if declared == PUBLIC else check_role(declared)
    if method == "OPTIONS" or path.startswith(PUBLIC_PREFIXES) or path == "/static":
        return PUBLIC
    if (method, path) in ROUTE_ROLES:
        return ROUTE_ROLES[(method, path)]
    return VIEWER if method in READ_METHODS else LABELER


def path_template(path: str) -> str:
    """``/items/{item_id:int}`` and ``/items/{item_id}`` name the same route."""
    return _PARAM_TYPE.sub(r"{\1}", path)


def mutation_role(field: str) -> str:
    return MUTATION_ROLES.get(field, LABELER)


def role_below(role: str) -> str | None:
    """The next weaker role (tests walk it), or None for viewer."""
    rank = _RANK[role]
    return ROLES[rank - 1] if rank > 0 else None
