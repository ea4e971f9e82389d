"""One settings object, read once from ``LABELWISE_*`` environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    graphql_max_depth: int = 10
    tagger: str = Field(default_factory=lambda: os.environ.get("USER", "local") or "local")
    worker_threads: int = 2
    # Jobs: the Dramatiq queue and Redis key namespace, liveness and limits of running jobs.
    job_queue: str = "labelwise-jobs"
    broker_namespace: str = "labelwise"
    heartbeat_seconds: float = 5.0  # a running job writes a heartbeat this often
    heartbeat_timeout_seconds: float = 60.0  # no heartbeat for this long: the job is marked failed
    job_timeout_seconds: int = 7 * 24 * 3600
    worker_device: str = "auto"  # "auto" (CUDA when present), "cpu", "cuda", "cuda:1", ...
    algorithm_modules: str = ""  # extra modules that register algorithms, comma-separated (plugins)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

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

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.artifact_dir, self.cache_dir):
            path.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
