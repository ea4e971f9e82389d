"""One settings object, read once from ``LABELWISE_*`` environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from backend.images.decode import FrameLimits


class Settings(BaseSettings):
    """Every setting has a working embedded default: SQLite, in-process broker, local data dir."""

    model_config = SettingsConfigDict(env_prefix="LABELWISE_", extra="ignore")

    data_dir: Path = Field(default=Path("labelwise-data"))
    database_url: str = ""
    broker_url: str = ""  # "" = in-process StubBroker with worker threads
    # Folders the server may read, separated by os.pathsep. Empty: only the demo folder.
    data_roots: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    max_image_pixels: int = 64_000_000  # refuse to decode bigger images (decompression bombs)
    # A "full resolution" view above this many pixels is read strided down to it (a 64-megapixel
    # RGBA image would otherwise cost gigabytes per request); 25 MP keeps an Eiger 16M frame whole.
    max_view_pixels: int = 25_000_000
    min_frame_side: int = 8  # an array frame narrower than this (a 1-D or (N, 1, 1) array) is refused
    max_frames_per_file: int = 10_000  # a stack with more frames is refused, not made into items
    # Disk cache of rendered thumbnails: least recently used files go first beyond either bound.
    thumbnail_cache_max_bytes: int = 1024**3
    thumbnail_cache_max_entries: int = 200_000
    max_request_bytes: int = 64 * 1024 * 1024  # documented uploads (the labels CSV import)
    # Bodies parsed on the event loop are bounded so that one request cannot stall the server
    # (docs/decisions/0005): page forms, their fields (url-encoded or multipart parts), JSON bodies.
    max_form_bytes: int = 1024 * 1024
    max_form_fields: int = 2000
    max_json_bytes: int = 16 * 1024 * 1024
    # Without accounts (loopback only), the Host names a request may carry besides the loopback
    # names and LABELWISE_HOST, comma-separated: a DNS-rebinding page names its own host.
    allowed_hosts: str = ""
    # `labelwise serve` drops a connection whose request headers have not all arrived by then.
    header_timeout_seconds: float = 10.0
    max_page_size: int = 500
    # Label classes one dataset may hold (a CSV import with create_classes is refused above it).
    max_classes_per_dataset: int = 1000
    graphql_max_depth: int = 10
    # GraphQL documents: refused unread above this size, and above this many selections once
    # fragment spreads are expanded (validation time grows with both; see docs/decisions/0007).
    graphql_max_document_bytes: int = 64 * 1024
    graphql_max_selections: int = 5_000
    tagger: str = Field(default_factory=lambda: os.environ.get("USER", "local") or "local")
    worker_threads: int = 2
    # Jobs: the Dramatiq queue and Redis key namespace, liveness and limits of running jobs.
    job_queue: str = "labelwise-jobs"
    broker_namespace: str = "labelwise"
    heartbeat_seconds: float = 5.0  # a running job writes a heartbeat this often
    heartbeat_timeout_seconds: float = 60.0  # no heartbeat for this long: the job is marked failed
    job_timeout_seconds: int = 7 * 24 * 3600
    # A running job asked to cancel that reaches no step boundary for this long (stuck in one call:
    # a hung network file system, a device) is marked canceled without it; its results are dropped.
    cancel_grace_seconds: float = Field(default=120.0, gt=0)
    # A queued job whose broker message vanished (Redis restarted without persistence) is sent
    # again after this grace, at most ``lost_message_resends`` times; then it fails, saying why.
    lost_message_grace_seconds: float = 60.0
    lost_message_resends: int = 1
    # With Redis, a job queued this long while no `labelwise worker` process has sent a heartbeat
    # for as long says that no worker runs (backend/jobs/presence.py); workers beat every
    # ``heartbeat_seconds``.
    no_worker_grace_seconds: float = Field(default=30.0, gt=0)
    worker_device: str = "auto"  # "auto" (CUDA when present), "cpu", "cuda", "cuda:1", ...
    algorithm_modules: str = ""  # extra modules that register algorithms, comma-separated (plugins)
    # Trust in models (issue 19): a classifier whose held-out accuracy is no better than the
    # majority-class baseline, or below this, is unfit (never a default; batches need an override).
    min_model_accuracy: float = Field(default=0.0, ge=0.0, le=1.0)
    confirm_batch_over: int = Field(default=100, ge=0)  # bigger probability batches need a confirmation
    guard_centroid_mads: float = Field(default=3.0, gt=0)  # flag: farther from the batch centroid
    guard_neighbours: int = Field(default=5, ge=1, le=50)  # flag: labeled nearest neighbours disagree
    # Tiled servers the server may talk to: "host" or "host:port", comma-separated; "*" = any.
    # Empty (the default): none, so no one can point the server at an internal address by accident.
    tiled_hosts: str = ""
    tiled_browse_max_items: int = 1000  # the Tiled browser lists at most this many children
    tiled_browse_seconds: float = 20.0  # and stops asking the server after this long
    tiled_scan_max_nodes: int = 1_000_000  # a scan stops (with an error) after this many nodes
    # Encrypts Tiled keys at rest (Fernet keys, comma-separated: the first encrypts, all decrypt).
    # Empty: a key file made in the data dir (mode 0600) on first use.
    secret_key: SecretStr = SecretStr("")
    # Proxies whose X-Forwarded-For is believed (IPs or CIDRs, comma-separated); others' is ignored.
    trusted_proxies: str = ""

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, value: str) -> str:
        import ipaddress

        for entry in (e.strip() for e in value.split(",")):
            if entry:
                ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    @property
    def database(self) -> str:
        """The database URL; by default a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'labelwise.sqlite'}"

    @property
    def artifact_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def demo_dir(self) -> Path:
        return self.data_dir / "demo"

    @property
    def roots(self) -> list[Path]:
        """Resolved data roots; the demo folder is always readable."""
        roots = [Path(p).expanduser().resolve() for p in self.data_roots.split(os.pathsep) if p]
        roots.append(self.demo_dir.resolve())
        return roots

    @property
    def frame_limits(self) -> FrameLimits:
        """What the file readers accept as frames (see ``backend.images.decode.FrameLimits``)."""
        from backend.images.decode import FrameLimits

        return FrameLimits(min_side=self.min_frame_side, max_frames=self.max_frames_per_file)

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret.key"

    def ensure_dirs(self) -> None:
        """The data dir holds the database and the key file: only its owner may enter it (0700)."""
        from backend.storage.files import private_dir

        private_dir(self.data_dir)
        for path in (self.artifact_dir, self.cache_dir):
            path.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
