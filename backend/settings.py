"""One settings object, read once from ``LABELWISE_*`` environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
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
    max_request_bytes: int = 64 * 1024 * 1024
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
