"""Tables of trained models and of the jobs that train and apply them.

Artifacts (model files, vectors, probabilities) live under the artifact dir; rows hold paths
relative to it. A model row becomes usable (``state == "ready"``) only after its files are whole.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, Text, text
from sqlmodel import Field, SQLModel

from backend.storage.types import UTCDateTime, utcnow


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kw)


def _json() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Model(SQLModel, table=True):
    """An algorithm + parameters trained on a dataset (and, for classifiers, a label snapshot)."""

    __tablename__ = "model"
    # Ids are never reused (SQLite would reuse the highest after a delete): they name artifact dirs.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    algorithm: str = Field(max_length=100)
    kind: str = Field(max_length=30)  # feature_extractor | classifier
    parameters: dict[str, Any] = _json()
    dataset_id: int = Field(sa_column_args=[ForeignKey("dataset.id", ondelete="CASCADE")], index=True)
    # What it learned from: item count, and for classifiers the label snapshot time and classes.
    trained_on: dict[str, Any] = _json()
    state: str = Field(default="training", max_length=20)  # training | ready | failed | canceled
    artifact_path: str | None = Field(default=None, sa_type=Text)  # relative to the artifact dir
    summary: dict[str, Any] = _json()  # final metrics
    created_at: datetime = _ts()
    ready_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Job(SQLModel, table=True):
    """One unit of background work: train, infer, build-index or project."""

    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_state_heartbeat", "state", "heartbeat_at"),
        Index("ix_job_dataset_created", "dataset_id", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)
    state: str = Field(default="queued", max_length=20)
    algorithm: str = Field(max_length=100)
    parameters: dict[str, Any] = _json()  # training parameters, or the options of an infer job
    dataset_id: int = Field(sa_column_args=[ForeignKey("dataset.id", ondelete="CASCADE")], index=False)
    model_id: int | None = Field(
        default=None, sa_column_args=[ForeignKey("model.id", ondelete="CASCADE")], index=True
    )
    submitted_by: str = Field(default="", max_length=100)
    attempt: int = 1
    message_id: str | None = Field(default=None, max_length=64)
    # Times the broker lost this job's queued message and the sweeper sent it again (jobs/lost.py).
    lost_messages: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    cancel_requested: bool = False
    done: int = Field(default=0, sa_type=BigInteger)
    total: int = Field(default=0, sa_type=BigInteger)
    epoch: int | None = None
    epochs: int | None = None
    worker: str | None = Field(default=None, max_length=200)
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the job's code last reported (a step, a log line, an epoch's metrics; migration 0011).
    # The heartbeat comes from a thread of its own and goes on while the code is stuck in a call.
    progress_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = Field(default=None, sa_type=Text)
    traceback: str | None = Field(default=None, sa_type=Text)
    outputs: dict[str, Any] = _json()  # {"dir": relative path, "files": [names]}
    created_at: datetime = _ts()
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # ---- keep models fresh (backend/jobs/fresh.py; migration 0007) ----
    # The finished job whose follow-up this job is (None: submitted by a person).
    # A plain id, no foreign key (adding one would rebuild the job table on SQLite).
    caused_by_job_id: int | None = None
    # Set once the server has looked at this finished job for a follow-up (claimed atomically).
    followed_up: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    # ---- chained steps (migration 0010) ----
    # Queue this job's next step on success even where the dataset does not keep models fresh: a
    # "train and apply" click (a queue suggestion) is one action, not one per job. Its follow-ups
    # are chained in turn.
    chain: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})


class JobMetric(SQLModel, table=True):
    """The metrics of one epoch of one attempt, e.g. {"train_loss": .., "val_loss": ..}."""

    __tablename__ = "job_metric"
    __table_args__ = (Index("ix_job_metric_job_epoch", "job_id", "attempt", "epoch"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(sa_column_args=[ForeignKey("job.id", ondelete="CASCADE")], index=False)
    attempt: int = 1
    epoch: int
    metrics: dict[str, float] = _json()
    created_at: datetime = _ts()


class JobLog(SQLModel, table=True):
    """One line of a job's log."""

    __tablename__ = "job_log"
    __table_args__ = (Index("ix_job_log_job_id", "job_id", "id"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    job_id: int = Field(sa_column_args=[ForeignKey("job.id", ondelete="CASCADE")], index=False)
    attempt: int = 1
    at: datetime = _ts()
    level: str = Field(default="info", max_length=10)
    message: str = Field(sa_type=Text)
