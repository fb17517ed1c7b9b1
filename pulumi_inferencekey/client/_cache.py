"""Recent workload lists per project, with one list request in flight per project at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pulumi_inferencekey.models import WorkloadRecord


@dataclass
class _Flight:
    generation: int
    started_at: float
    done: threading.Event = field(default_factory=threading.Event)
    records: list[WorkloadRecord] | None = None
    error: BaseException | None = None


@dataclass(frozen=True)
class _Entry:
    fetched_at: float
    records: list[WorkloadRecord]


class ListCache:
    """List results per project, reused for ``max_age`` seconds, with concurrent requests merged.

    Callers that ask for a project whose list is already being fetched wait for that
    request instead of sending their own, so N concurrent refreshes cost one request.
    ``invalidate`` drops the stored list and detaches the request in flight, because
    its response may predate the write that caused the invalidation.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._flights: dict[str, _Flight] = {}
        self._generations: dict[str, int] = {}

    def get(
        self, project: str, max_age: float, fetch: Callable[[], list[WorkloadRecord]], *, copy: bool = True
    ) -> list[WorkloadRecord]:
        """Return the project's list, from the cache, from a request in flight, or from ``fetch``.

        With ``copy`` false the records are the cached objects, which the caller must not
        change. Finding one workload that way copies one record instead of the whole list.
        """
        records = self._shared(project, max_age, fetch)
        return _copies(records) if copy else records

    def _shared(self, project: str, max_age: float, fetch: Callable[[], list[WorkloadRecord]]) -> list[WorkloadRecord]:
        with self._lock:
            entry = self._entries.get(project)
            if entry is not None and max_age > 0 and self._clock() - entry.fetched_at <= max_age:
                return entry.records

            flight = self._flights.get(project)
            if flight is None:
                flight = _Flight(generation=self._generations.get(project, 0), started_at=self._clock())
                self._flights[project] = flight
                leader = True
            else:
                leader = False

        if leader:
            return self._fetch(project, flight, fetch)
        return self._join(flight)

    def invalidate(self, project: str) -> None:
        """Forget the project's list, so the next read sends a new request."""
        with self._lock:
            self._generations[project] = self._generations.get(project, 0) + 1
            self._entries.pop(project, None)
            self._flights.pop(project, None)

    def _fetch(self, project: str, flight: _Flight, fetch: Callable[[], list[WorkloadRecord]]) -> list[WorkloadRecord]:
        try:
            flight.records = fetch()
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            self._finish(project, flight)
        return flight.records

    def _finish(self, project: str, flight: _Flight) -> None:
        with self._lock:
            if self._flights.get(project) is flight:
                del self._flights[project]
            # The age counts from when the request started: the list may be older than its arrival.
            if flight.records is not None and self._generations.get(project, 0) == flight.generation:
                self._entries[project] = _Entry(fetched_at=flight.started_at, records=flight.records)
        flight.done.set()

    @staticmethod
    def _join(flight: _Flight) -> list[WorkloadRecord]:
        # No timeout: the leader's request is bounded by the client's retry budget, and
        # _finish always sets the event.
        flight.done.wait()
        if flight.error is not None:
            # Every waiter re-raises the leader's exception object, so its traceback
            # accumulates the frames of each waiter.
            raise flight.error
        assert flight.records is not None
        return flight.records


def _copies(records: list[WorkloadRecord]) -> list[WorkloadRecord]:
    # Callers may change the records they get; the cached ones must stay as the platform sent them.
    return [record.model_copy(deep=True) for record in records]
