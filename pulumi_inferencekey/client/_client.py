"""The HTTP client of the InferenceKey control plane: workload CRUD, retries and readiness."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any
from urllib.parse import quote

import httpx
import pydantic
from httpx_sse import EventSource, SSEError

from pulumi_inferencekey.errors import (
    ApiError,
    ConfigurationError,
    ReadinessError,
    ReadinessTimeout,
    TransportError,
    error_for_response,
)
from pulumi_inferencekey.models import WorkloadCreate, WorkloadPatch, WorkloadRecord, canonical_slug
from pulumi_inferencekey.settings import PROJECT_CONFIG, PROJECT_ENV, Settings, validate_project_slug
from pulumi_inferencekey.tokens import scrub

from ._cache import ListCache
from ._readiness import DeadlinePassed, DeadlineResponse, ReadinessEvent, parse_event
from ._retry import RETRYABLE_STATUSES, RetryPolicy, parse_retry_after

logger = logging.getLogger("pulumi_inferencekey.client")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

# The request never left this process, so sending it again cannot apply it twice.
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures that may not recur on another attempt. The others (an unsupported scheme,
# a proxy error, a local protocol error) would fail the same way again.
_TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

_SSE_HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-store"}


def _user_agent() -> str:
    try:
        version = metadata.version("pulumi-inferencekey")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"pulumi-inferencekey/{version}"


USER_AGENT = _user_agent()


@dataclass(frozen=True)
class _Call:
    """One control-plane request, with the names its errors and log lines report."""

    operation: str
    method: str
    path: str
    project: str | None
    workload: str | None = None
    body: Any = None
    # A create is not idempotent: when the connection breaks after the body was sent,
    # the platform may have created the workload, so it is not sent again.
    idempotent: bool = True


@dataclass(frozen=True)
class _Exchange:
    response: httpx.Response
    # True when an earlier attempt failed after its request was sent, so the platform
    # may have applied it.
    maybe_applied: bool


class _RetryableStatus(Exception):
    """The readiness route responded with 429 or 502-504 instead of an event stream."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"status {status}")
        self.status = status
        self.retry_after = retry_after


class ControlPlaneClient:
    """Workload operations on one control plane with one SDK token, safe to share between threads.

    The underlying httpx.Client is created on the first request, so building this object
    costs nothing and sends nothing. ``project`` names the project in request paths,
    errors and the list cache, and the token must belong to it.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._transport = transport
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._lists = ListCache()

    def __repr__(self) -> str:
        return f"ControlPlaneClient(base_url={self.settings.base_url!r}, sdk_token={self.settings.redacted_token!r})"

    def __enter__(self) -> ControlPlaneClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections; a later request opens new ones."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # --- workloads ---------------------------------------------------------------------

    def list_workloads(self, project: str, *, max_age: float = 0.0) -> list[WorkloadRecord]:
        """Return the project's workloads, reusing a list fetched at most ``max_age`` seconds ago.

        Concurrent calls for the same project share one request. Writes through this
        client make the next call send a request, even within ``max_age``.
        """
        return self._list(project, max_age, copy=True)

    def find_workload(self, project: str, slug: str, *, max_age: float = 0.0) -> WorkloadRecord | None:
        """Return the workload whose slug has the same canonical form as ``slug``, or None."""
        expected = canonical_slug(slug)
        for record in self._list(project, max_age, copy=False):
            if canonical_slug(record.slug) == expected:
                return record.model_copy(deep=True)
        return None

    def get_workload(self, project: str, workload_id: str, *, max_age: float = 0.0) -> WorkloadRecord | None:
        """Return the workload with this id, or None when it is gone.

        The control plane has no route to read one workload, so this lists the project.
        """
        for record in self._list(project, max_age, copy=False):
            if record.id == workload_id:
                return record.model_copy(deep=True)
        return None

    def _list(self, project: str, max_age: float, *, copy: bool) -> list[WorkloadRecord]:
        # A refresh of N workloads looks up N records in one cached list, so copying only the
        # match makes N record copies instead of N * N.
        call = _Call("list workloads", "GET", _workloads_path(project), project)
        return self._lists.get(project, max_age, lambda: self._fetch_list(call), copy=copy)

    def create_workload(self, project: str, body: WorkloadCreate) -> WorkloadRecord:
        """Create a workload and return it as the platform stored it.

        A create is sent again only when the platform responded with 429 or 502-504, or when
        the connection failed before sending. A connection that breaks after sending
        raises TransportError with ``outcome_unknown`` set: list before creating again.
        """
        call = _Call(
            "create workload",
            "POST",
            _workloads_path(project),
            project,
            workload=body.slug or body.name,
            body=body.model_dump(mode="json", exclude_none=True),
            idempotent=False,
        )
        try:
            response = self._request(call)
        finally:
            # Even a failed create may have been applied, so the cached list is stale.
            self._lists.invalidate(project)
        return self._parse_record(call, response)

    def update_workload(
        self, project: str, workload_id: str, patch: WorkloadPatch, *, slug: str | None = None
    ) -> WorkloadRecord:
        """Send the fields set in ``patch`` and return the updated workload.

        ``slug`` only names the workload in errors and logs.
        """
        call = _Call(
            "update workload",
            "PATCH",
            _workload_path(workload_id),
            project,
            workload=slug or workload_id,
            body=patch.to_body(),
        )
        try:
            response = self._request(call)
        finally:
            self._lists.invalidate(project)
        return self._parse_record(call, response)

    def delete_workload(self, project: str, workload_id: str, *, slug: str | None = None) -> bool:
        """Delete a workload and return True, or False when it was already gone.

        A 404 that follows an attempt whose connection broke after sending counts as
        deleted by that attempt, so it returns True.
        """
        call = _Call("delete workload", "DELETE", _workload_path(workload_id), project, workload=slug or workload_id)
        try:
            exchange = self._send(call)
        finally:
            self._lists.invalidate(project)

        if exchange.response.status_code == 404:
            logger.debug("%s %s: 404, the workload is gone", call.method, call.path)
            return exchange.maybe_applied
        self._raise_for_status(call, exchange.response)
        return True

    # --- readiness ---------------------------------------------------------------------

    def readiness_events(self, project: str, slug: str, *, timeout: float) -> Iterator[ReadinessEvent]:
        """Yield the workload's readiness events until ``ready`` or ``error``, reconnecting on drops.

        Each connection starts with a snapshot of the current phase, so a reconnect
        resyncs without missing the outcome. Raises ReadinessTimeout once ``timeout``
        seconds have passed, and the typed ApiError on error statuses other than 429
        and 502-504, which are retried like network errors.
        NOTE: the deadline is checked whenever bytes arrive. A stream that goes silent
        can overrun it by up to the time the stream has been open, at most the read timeout.
        """
        call = _Call("wait for workload", "GET", _readiness_path(project, slug), project, workload=slug)
        deadline = time.monotonic() + timeout
        last: ReadinessEvent | None = None
        empty_connections = 0

        while time.monotonic() < deadline:
            delivered = False
            try:
                for event in self._stream_events(call, deadline):
                    delivered = True
                    last = event
                    yield event
                    if event.is_terminal:
                        return
                reason, retry_after = "the stream closed before a terminal phase", None
            except DeadlinePassed:
                break
            except _RetryableStatus as exc:
                reason, retry_after = str(exc), exc.retry_after
            except httpx.TransportError as exc:
                if not isinstance(exc, _TRANSIENT_ERRORS):
                    raise self._transport_error(call, exc, attempts=1) from exc
                reason, retry_after = type(exc).__name__, None

            empty_connections = 0 if delivered else empty_connections + 1
            self._wait_to_reconnect(call, deadline, reason, retry_after, empty_connections)

        raise self._readiness_timeout(call, timeout, last)

    def wait_until_ready(
        self,
        project: str,
        slug: str,
        *,
        timeout: float,
        on_event: Callable[[ReadinessEvent], None] | None = None,
    ) -> ReadinessEvent:
        """Return the ``ready`` event; raise ReadinessError on ``error`` and ReadinessTimeout after ``timeout``.

        ``on_event`` is called with every event, the terminal one included.
        """
        with contextlib.closing(self.readiness_events(project, slug, timeout=timeout)) as events:
            for event in events:
                if on_event is not None:
                    on_event(event)
                if event.phase == "ready":
                    return event
                if event.phase == "error":
                    raise ReadinessError(event.message, operation="wait for workload", workload=slug, project=project)
        raise AssertionError("readiness_events ended without a terminal event or an error")

    def _stream_events(self, call: _Call, deadline: float) -> Iterator[ReadinessEvent]:
        request = self._http().build_request(
            call.method, call.path, headers=_SSE_HEADERS, timeout=self._attempt_timeout(deadline)
        )
        response = self._send_logged(request, stream=True)
        try:
            self._check_stream_status(call, response)
            for sse in EventSource(DeadlineResponse(response, deadline)).iter_sse():  # type: ignore[arg-type]
                event = parse_event(sse.data)
                if event is not None:
                    yield event
                elif sse.data:
                    logger.debug("ignoring a readiness frame that is not an event: %.80s", scrub(sse.data))
        except SSEError as exc:
            raise self._invalid_response(call, response, str(exc)) from exc
        finally:
            response.close()

    def _check_stream_status(self, call: _Call, response: httpx.Response) -> None:
        if response.is_success:
            return
        response.read()
        if response.status_code in RETRYABLE_STATUSES:
            raise _RetryableStatus(response.status_code, parse_retry_after(response.headers.get("Retry-After")))
        self._raise_for_status(call, response)

    def _wait_to_reconnect(
        self, call: _Call, deadline: float, reason: str, retry_after: float | None, empty_connections: int
    ) -> None:
        # The reconnect schedule is the floor: a Retry-After of 0 must not turn repeated
        # 503s into a busy loop. A longer Retry-After is honoured up to max_delay.
        delay = self.retry.reconnect_delay(max(empty_connections - 1, 0))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.retry.max_delay))
        delay = min(delay, max(deadline - time.monotonic(), 0.0))

        logger.debug("reconnecting %s %s in %.2f s: %s", call.method, call.path, delay, reason)
        time.sleep(delay)

    def _readiness_timeout(self, call: _Call, timeout: float, last: ReadinessEvent | None) -> ReadinessTimeout:
        return ReadinessTimeout(
            timeout=timeout,
            last_phase=last.phase if last else None,
            last_message=last.message if last else None,
            operation=call.operation,
            workload=call.workload,
            project=call.project,
        )

    # --- one request, with retries -----------------------------------------------------

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    base_url=self.settings.base_url,
                    headers={"Authorization": f"Bearer {self.settings.sdk_token}", "User-Agent": USER_AGENT},
                    timeout=self._timeout,
                    transport=self._transport,
                )
            return self._client

    def _request(self, call: _Call) -> httpx.Response:
        exchange = self._send(call)
        self._raise_for_status(call, exchange.response)
        return exchange.response

    def _send(self, call: _Call) -> _Exchange:
        deadline = time.monotonic() + self.retry.total_timeout
        maybe_applied = False
        attempt = 0

        while True:
            attempt += 1
            request = self._http().build_request(
                call.method, call.path, json=call.body, timeout=self._attempt_timeout(deadline)
            )
            try:
                response = self._send_logged(request)
            except httpx.TransportError as exc:
                maybe_applied = maybe_applied or not isinstance(exc, _NOT_SENT_ERRORS)
                delay = self._retry_delay(call, attempt, deadline, error=exc)
                if delay is None:
                    raise self._transport_error(call, exc, attempts=attempt) from exc
            else:
                delay = self._retry_delay(call, attempt, deadline, response=response)
                if delay is None:
                    return _Exchange(response, maybe_applied)
            time.sleep(delay)

    def _send_logged(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        # One INFO line per exchange. The URL path carries no secret, and the
        # Authorization header is never logged.
        started = time.monotonic()
        path = _path(request)
        try:
            response = self._http().send(request, stream=stream)
        except httpx.TransportError as exc:
            logger.info("%s %s failed: %s (%d ms)", request.method, path, type(exc).__name__, _ms_since(started))
            raise

        logger.info("%s %s %d (%d ms)", request.method, path, response.status_code, _ms_since(started))
        return response

    def _retry_delay(
        self,
        call: _Call,
        attempt: int,
        deadline: float,
        *,
        response: httpx.Response | None = None,
        error: httpx.TransportError | None = None,
    ) -> float | None:
        """Return the wait before the next attempt, or None to stop; log the reason at DEBUG."""
        if response is not None and response.is_success:
            return None
        if response is not None and response.status_code not in RETRYABLE_STATUSES:
            logger.debug("not retrying %s %s: status %d is not transient", call.method, call.path, response.status_code)
            return None
        if error is not None and not isinstance(error, _TRANSIENT_ERRORS):
            logger.debug("not retrying %s %s: %s is not transient", call.method, call.path, type(error).__name__)
            return None
        if error is not None and not call.idempotent and not isinstance(error, _NOT_SENT_ERRORS):
            logger.debug(
                "not retrying %s %s: %s after the request was sent, so it may have been applied",
                call.method, call.path, type(error).__name__,
            )
            return None
        if attempt >= self.retry.max_attempts:
            logger.debug("giving up %s %s after %d attempts", call.method, call.path, attempt)
            return None

        retry_after = parse_retry_after(response.headers.get("Retry-After")) if response is not None else None
        delay = self.retry.retry_delay(attempt, retry_after=retry_after)
        if time.monotonic() + delay >= deadline:
            logger.debug(
                "giving up %s %s: waiting %.2f s would pass the %g s retry budget",
                call.method, call.path, delay, self.retry.total_timeout,
            )
            return None

        cause = f"status {response.status_code}" if response is not None else type(error).__name__
        logger.debug(
            "retrying %s %s in %.2f s (attempt %d of %d): %s",
            call.method, call.path, delay, attempt + 1, self.retry.max_attempts, cause,
        )
        return delay

    def _attempt_timeout(self, deadline: float) -> httpx.Timeout:
        # No single attempt may outlive the retry budget (or the readiness deadline).
        remaining = max(deadline - time.monotonic(), 0.001)
        configured = self._timeout
        return httpx.Timeout(
            connect=_capped(configured.connect, remaining),
            read=_capped(configured.read, remaining),
            write=_capped(configured.write, remaining),
            pool=_capped(configured.pool, remaining),
        )

    # --- responses and errors ----------------------------------------------------------

    def _raise_for_status(self, call: _Call, response: httpx.Response) -> None:
        if response.is_success:
            return
        raise error_for_response(
            response.status_code,
            _decoded_body(response),
            operation=call.operation,
            workload=call.workload,
            project=call.project,
        )

    def _fetch_list(self, call: _Call) -> list[WorkloadRecord]:
        response = self._request(call)
        body = self._parse_json(call, response)
        if isinstance(body, dict) and "workloads" in body:
            body = body["workloads"]
        if body is None:
            return []
        if not isinstance(body, list):
            raise self._invalid_response(call, response, "the body is not a list of workloads")

        records = []
        for index, item in enumerate(body):
            try:
                records.append(WorkloadRecord.model_validate(item))
            except pydantic.ValidationError as exc:
                detail = f"workload {index}: {_first_validation_error(exc)}"
                raise self._invalid_response(call, response, detail) from exc
        return records

    def _parse_record(self, call: _Call, response: httpx.Response) -> WorkloadRecord:
        try:
            return WorkloadRecord.model_validate(self._parse_json(call, response))
        except pydantic.ValidationError as exc:
            raise self._invalid_response(call, response, _first_validation_error(exc)) from exc

    def _parse_json(self, call: _Call, response: httpx.Response) -> Any:
        # An empty body reads as null, which a list accepts and a workload rejects.
        if not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise self._invalid_response(call, response, "the body is not JSON") from exc

    def _invalid_response(self, call: _Call, response: httpx.Response, detail: str) -> ApiError:
        return ApiError(
            response.status_code,
            code=None,
            server_message=f"unreadable response: {detail}",
            operation=call.operation,
            workload=call.workload,
            project=call.project,
            hint=f"check that {self.settings.base_url} is an InferenceKey control plane (setting inferencekey:baseUrl)",
        )

    def _transport_error(self, call: _Call, exc: httpx.TransportError, *, attempts: int) -> TransportError:
        outcome_unknown = not call.idempotent and not isinstance(exc, _NOT_SENT_ERRORS)
        failure = type(exc).__name__ + (f": {scrub(str(exc))}" if str(exc) else "")

        if outcome_unknown:
            reason = f"the connection failed after the request was sent ({failure}), so the workload may have been created"
        else:
            tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
            reason = f"no response from the control plane at {self.settings.base_url} after {tries} ({failure})"
        return TransportError(
            reason,
            outcome_unknown=outcome_unknown,
            operation=call.operation,
            workload=call.workload,
            project=call.project,
        )


# --- paths and bodies ------------------------------------------------------------------


def _workloads_path(project: str) -> str:
    return f"/api/projects/{quote(_checked_project(project), safe='')}/workloads"


def _workload_path(workload_id: str) -> str:
    return f"/api/workloads/{quote(workload_id, safe='')}"


def _readiness_path(project: str, slug: str) -> str:
    return f"{_workloads_path(project)}/{quote(slug, safe='')}/readiness-events"


def _checked_project(project: str) -> str:
    if not project:
        raise ConfigurationError(
            "project",
            "no project is set",
            hint=f"set the workload's project input, the stack config {PROJECT_CONFIG} or {PROJECT_ENV}",
        )
    return validate_project_slug(project, "project")


def _decoded_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _first_validation_error(exc: pydantic.ValidationError) -> str:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"]) or "body"
    return f"{location}: {error['msg']}"


def _path(request: httpx.Request) -> str:
    return request.url.raw_path.decode("ascii", errors="replace")


def _capped(value: float | None, limit: float) -> float:
    return limit if value is None else min(value, limit)


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


# --- one client per process ------------------------------------------------------------

_shared_clients: dict[tuple[str, str], ControlPlaneClient] = {}
_shared_lock = threading.Lock()


def shared_client(settings: Settings) -> ControlPlaneClient:
    """Return this process's client for the settings' base URL and token, creating it on first use.

    Sharing one client lets the provider's threads share connections and list results.
    """
    key = (settings.base_url, settings.sdk_token)
    with _shared_lock:
        client = _shared_clients.get(key)
        if client is None:
            client = ControlPlaneClient(settings)
            _shared_clients[key] = client
        return client
