"""A submitted job: its state, and a wait that follows the server's event stream.

``wait`` reads ``GET /jobs/{id}/events`` (server-sent events: one message per change, the stream
ends when the job does), opens it again when it closes early or the server restarts (giving up
with ``UNREACHABLE`` after ``reconnect_seconds`` without an answer), and polls ``GET /jobs/{id}``
where the server offers no stream. A job may carry follow-ups (inference after training, then
the index): each is submitted once the one before succeeded, so ``wait`` returns when the whole chain is done.
The server's own follow-ups (a chained job, a dataset that keeps models fresh) are waited on too:
while a job says ``follow_up_pending`` the wait polls it, then waits on the jobs it caused.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from labelwise_client.errors import LabelwiseError

if TYPE_CHECKING:
    from labelwise_client.client import Client

FINISHED = ("succeeded", "failed", "canceled")
FollowUp = Callable[["Job"], "Job"]


class Job:
    """A job as the server last described it (``data``), with the follow-ups still to submit."""

    def __init__(
        self, client: Client, data: dict[str, Any], follow_ups: list[FollowUp] | None = None
    ) -> None:
        self.client = client
        self.data = data
        self.follow_ups = list(follow_ups or [])
        self.chain: list[Job] = []  # the follow-up jobs submitted so far, in order
        self.followed_by = ""  # "events" or "polling": how the last wait learnt that the job ended

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.data.get('kind')} {self.state}>"

    @property
    def id(self) -> int:
        return int(self.data["id"])

    @property
    def state(self) -> str:
        return str(self.data["state"])

    @property
    def model_id(self) -> int | None:
        return self.data.get("model_id")

    @property
    def no_worker(self) -> str | None:
        """Queued past the server's grace while no worker is alive (Redis broker, no `labelwise
        worker` running): since when none was seen and how to start one; None otherwise. A
        ``wait`` learns it from the event stream as it appears and clears."""
        return self.data.get("no_worker")

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def last(self) -> Job:
        """The last job of the chain (this one when nothing followed)."""
        return self.chain[-1] if self.chain else self

    def refresh(self) -> Job:
        self.data = self.client._json("GET", f"/jobs/{self.id}")
        return self

    def cancel(self) -> Job:
        self.data = self.client._json("POST", f"/jobs/{self.id}/cancel")
        return self

    def wait(
        self,
        *,
        progress: bool = False,
        timeout: float = 3600.0,
        poll_seconds: float = 1.0,
        reconnect_seconds: float = 60.0,
        follow_server: bool = True,
    ) -> Job:
        """Block until the job (and its follow-ups) succeed; returns self.

        ``follow_server``: also wait for the steps the server queues by itself after a job (a
        chained job, e.g. an accepted next-actions suggestion, or a dataset that keeps models
        fresh: inference after training, the index after an extractor's inference). While the
        server says ``follow_up_pending`` the job is polled (every ``poll_seconds``), then each
        job it caused (``GET /jobs?caused_by=``) is waited on in turn, recursively, and appended
        to ``chain`` like the client's own follow-ups: ``last`` is the last step. False: return
        when the job itself (and the client's follow-ups) end.

        Raises ``LabelwiseError`` with code ``JOB_FAILED`` or ``JOB_CANCELED`` (the server's error
        message included; a failed server step too) and ``TIMEOUT`` when ``timeout`` seconds pass
        first (the pending follow-up included); the job itself goes on. A server that goes away (a
        restart) is reconnected to for ``reconnect_seconds``; after that, ``UNREACHABLE`` says since
        when and why.
        """
        deadline = time.monotonic() + timeout
        job: Job = self
        while True:
            job._follow(deadline, progress, poll_seconds, reconnect_seconds)
            job._raise_unless_succeeded()
            if follow_server:
                self._follow_server(job, deadline, progress, poll_seconds, reconnect_seconds)
            if not self.follow_ups:
                return self
            job = self.follow_ups.pop(0)(job)
            if all(step.id != job.id for step in self.chain):  # not a server step it stands for
                self.chain.append(job)

    def server_step(self, kind: str, model_id: int) -> Job | None:
        """The step of ``kind`` for ``model_id`` the server already ran in this job's chain (None:
        it ran none): a client follow-up takes it instead of submitting the same work again."""
        for step in self.chain:
            if step.data.get("kind") == kind and step.model_id == model_id and step.state == "succeeded":
                return step
        return None

    def _raise_unless_succeeded(self) -> None:
        if self.state != "succeeded":
            code = "JOB_CANCELED" if self.state == "canceled" else "JOB_FAILED"
            message = f"job {self.id} ({self.data.get('kind')}) {self.state}: {self.data.get('error') or ''}"
            raise LabelwiseError(code, message.rstrip(": "), details={"job": self.data})

    def _follow_server(
        self, done: Job, deadline: float, progress: bool, poll_seconds: float, reconnect_seconds: float
    ) -> None:
        """Wait on the steps the server queues after the succeeded ``done`` (and after those, in
        turn), appending each to ``self.chain``."""
        while done.data.get("follow_up_pending"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise LabelwiseError(
                    "TIMEOUT", f"the server had not queued the step after job {done.id} in the wait's timeout"
                )
            time.sleep(min(poll_seconds, left))
            done.refresh()
        if "follow_up_pending" not in done.data:
            return  # an older server, which neither says so nor lists by caused_by
        caused = self.client._json("GET", "/jobs", params={"caused_by": done.id})["jobs"]
        # a training that names it is a later retrain (labels grew), not a step after this job
        known = {step.id for step in self.chain}
        steps = [j for j in caused if j.get("kind") != "train" and int(j["id"]) not in known]
        for data in sorted(steps, key=lambda j: int(j["id"])):
            step = Job(self.client, data)
            self.chain.append(step)
            step._follow(deadline, progress, poll_seconds, reconnect_seconds)
            step._raise_unless_succeeded()
            self._follow_server(step, deadline, progress, poll_seconds, reconnect_seconds)

    def _follow(self, deadline: float, progress: bool, poll_seconds: float, reconnect_seconds: float) -> None:
        """Until finished: the event stream, opened again when it closes before the end (its
        lifetime cap, a server restart); polling where the server offers no stream."""
        lost: tuple[float, LabelwiseError] | None = None  # since when the server has not answered
        while True:
            try:
                for message in self._events(deadline):
                    lost = None
                    self.data = message
                    if progress:
                        _print_progress(message)
                    if self.finished:
                        self.followed_by = "events"
                        return
                # closed before the end, but cleanly (its lifetime cap, a restart): open it again
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
                continue
            except LabelwiseError as exc:
                now = time.monotonic()
                if now >= deadline:
                    raise LabelwiseError(
                        "TIMEOUT", f"job {self.id} is still {self.state} after the wait's timeout"
                    ) from exc
                if exc.status is not None:  # an answer, but no stream (an older server): poll
                    if exc.status in (401, 403, 404):
                        self.refresh()  # the job itself gone or refused: raise what the server says
                    break
                lost = lost or (now, exc)  # no answer (a restart, a network cut): try again
                if now - lost[0] >= reconnect_seconds:
                    raise LabelwiseError(
                        "UNREACHABLE",
                        f"job {self.id}: the server stopped answering while the job was followed and "
                        f"did not come back in {reconnect_seconds:g} s (first failure: {lost[1].message})",
                    ) from exc
                time.sleep(min(poll_seconds, max(0.0, deadline - now)))
        self.followed_by = "polling"
        while not self.refresh().finished:
            if progress:
                _print_progress(self.data)
            left = deadline - time.monotonic()
            if left <= 0:
                raise LabelwiseError(
                    "TIMEOUT", f"job {self.id} is still {self.state} after the wait's timeout"
                )
            time.sleep(min(poll_seconds, left))
        if progress:
            _print_progress(self.data)

    def _events(self, deadline: float) -> Iterator[dict[str, Any]]:
        """The job as each ``job`` message of the server-sent event stream describes it."""
        http = self.client._http
        left = max(0.1, deadline - time.monotonic())
        # The read timeout bounds the silence between messages (the server sends keep-alives).
        timeout = httpx.Timeout(self.client.timeout, read=min(left, self.client.timeout))
        try:
            with http.stream("GET", f"/jobs/{self.id}/events", timeout=timeout) as response:
                if response.status_code >= 400:
                    response.read()
                    raise LabelwiseError.from_response(response)
                for event, data in sse_messages(response.iter_lines()):
                    if time.monotonic() >= deadline:
                        raise LabelwiseError("TIMEOUT", f"job {self.id} did not finish in the wait's timeout")
                    if event in ("job", "end") and data:
                        yield json.loads(data)
        except httpx.TransportError as exc:
            where = f"job {self.id} events, GET {self.client._where}/jobs/{self.id}/events"
            raise LabelwiseError.from_transport(exc, where) from exc


def sse_messages(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(event, data) of each message of a server-sent event stream, as the HTML standard reads it.

    A message ends at a blank line, which resets its event name: a keep-alive (a comment and an
    empty ``data:`` line) after a ``job`` message is its own message, never a second ``job``."""
    event, data = "", []
    for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data:
                yield event or "message", "\n".join(data)
            event, data = "", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
    if data:
        yield event or "message", "\n".join(data)


def _print_progress(job: dict[str, Any]) -> None:
    done, total = job.get("done") or 0, job.get("total") or 0
    epoch, epochs = job.get("epoch"), job.get("epochs")
    parts = [f"job {job['id']} {job.get('kind', '')} {job['state']}"]
    if total:
        parts.append(f"{done}/{total}")
    if epochs:
        parts.append(f"epoch {epoch or 0}/{epochs}")
    metrics = job.get("latest_metrics") or {}
    parts.extend(f"{k}={v:.4g}" for k, v in sorted(metrics.items()) if isinstance(v, int | float))
    if job.get("no_worker"):
        parts.append(f"waiting: {job['no_worker']}")
    print("\r" + "  ".join(parts), end="\n" if job["state"] in FINISHED else "", file=sys.stderr, flush=True)
