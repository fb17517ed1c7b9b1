"""The dynamic provider behind Workload: check, diff, create, read, update and delete.

Pulumi pickles this provider into every resource's state, so the object carries no token,
client or lock. Settings and the pooled client are looked up at run time instead.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from .client import ControlPlaneClient, shared_client
from .errors import InferenceKeyError, TransportError
from .inputs import (
    ALL_INPUTS,
    LOCAL_INPUTS,
    PLATFORM_INPUTS,
    REPLACE_INPUTS,
    InputFailure,
    check_inputs,
    holds_token,
    is_unknown,
    live_inputs,
    normalize_numbers,
    wire_fields,
)
from .models import WorkloadCreate, WorkloadPatch, WorkloadRecord
from .settings import PROJECT_CONFIG, PROJECT_ENV, Settings, resolve_settings

logger = logging.getLogger("pulumi_inferencekey.provider")

CONFIG_KEYS = ("inferencekey:baseUrl", "inferencekey:project", "inferencekey:sdkToken")

# Reads within this many seconds share one list call per project, so a refresh of N
# workloads costs about one list instead of N.
READ_LIST_MAX_AGE = 2.0

# How long a create whose response was lost keeps listing to learn whether it took effect.
# Giving up sooner would leave a workload that neither the state nor the next run's create
# (which finds its slug taken) can account for.
LOST_CREATE_LOOKUP_SECONDS = 60.0
# Pause between two lookups, on top of the client's own retries within each list.
LOST_CREATE_LOOKUP_PAUSE = 1.0


class WorkloadProvider(ResourceProvider):
    """Creates, reads, updates and deletes InferenceKey workloads through the control plane."""

    def __init__(self) -> None:
        super().__init__()
        self._stack_config: dict[str, str] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        # No attribute is pickled, because the stack config contains the SDK token once
        # configure() ran. Pickling no dict also avoids a Pulumi Python SDK 3.272 bug: its
        # serialize_provider wraps pickle's dict writer once more on every call, so after
        # about 985 Workloads in one process a pickled dict raises RecursionError.
        return (type(self), ())

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Providers pickled by earlier versions of this package carry a state dict.
        self.__dict__.update(state)
        self._stack_config = {}

    def configure(self, req: ConfigureRequest) -> None:
        self._stack_config = {key: req.config.get(key) for key in CONFIG_KEYS if req.config.get(key) is not None}

    # --- settings --------------------------------------------------------------------

    def _settings(self, project: str | None = None) -> Settings:
        return resolve_settings(project=project, config=self._stack_config)

    def _client(self, project: str | None = None) -> tuple[ControlPlaneClient, Settings]:
        settings = self._settings(project)
        return shared_client(settings), settings

    # --- check and diff: no request ever --------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        default_project = self._default_project()
        inputs, failures = check_inputs(news, default_project=default_project)
        return CheckResult(inputs, [_check_failure(failure, news) for failure in failures])

    def _default_project(self) -> str | None:
        # Only the project is needed here: a missing or bad token is reported by the first
        # operation that sends a request, not by check.
        value = self._stack_config.get(PROJECT_CONFIG) or os.environ.get(PROJECT_ENV)
        return value.strip() if value and value.strip() else None

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # As in the official SDK's ensure(), an optional input the program leaves unset is
        # never drift: the live value stays whatever it is.
        changed = [field for field in ALL_INPUTS if news.get(field) is not None and _differs(olds.get(field), news.get(field))]
        replaces = [field for field in changed if field in REPLACE_INPUTS]

        # The server gives a second workload with a taken slug a "-1" suffix, so when the
        # slug stays the old workload must go first.
        same_slug = not _differs(olds.get("slug"), news.get("slug")) and not _differs(olds.get("project"), news.get("project"))
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            stables=["workload_id", "created_at"] if not replaces else [],
            delete_before_replace=bool(replaces) and same_slug,
        )

    # --- create ----------------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        client, settings = self._client(props.get("project"))
        project, slug = settings.project, props["slug"]

        taken = client.find_workload(project, slug)
        if taken is not None and props.get("adopt_existing"):
            return self._adopt(client, settings, taken, props)
        if taken is not None:
            raise WorkloadConflict(
                f"the slug is already taken by workload {taken.id}",
                operation="create workload",
                workload=slug,
                project=project,
                hint="if another resource of this program declares the same slug, give one of them another slug; "
                "if the workload was made outside this stack, adopt it with adopt_existing=True on this Workload "
                "(Pulumi's import_ option does not work for Python dynamic resources)",
            )

        record = self._post(client, project, slug, props)
        if record.slug != slug:
            self._remove_duplicate(client, project, slug, record)

        logger.info("created workload %s (%s) in project %s", slug, record.id, project)
        return CreateResult(id_=record.id, outs=_outputs(record, props, settings))

    def _adopt(self, client: ControlPlaneClient, settings: Settings, taken: WorkloadRecord, props: dict[str, Any]) -> CreateResult:
        # The program asked for this explicitly, so the workload is brought in line with
        # the program and managed from now on, like a Pulumi import followed by an update.
        if props["task_type"] != taken.task_type:
            raise WorkloadConflict(
                f"the existing workload has task type {taken.task_type!r}, and the platform cannot patch it to "
                f"{props['task_type']!r}",
                operation="adopt workload",
                workload=taken.slug,
                project=settings.project,
                hint="declare the existing task type, or delete the workload and let Pulumi create it",
            )
        patch = _patch_body(live_inputs(taken.model_dump(), props), props)
        record = client.update_workload(settings.project, taken.id, WorkloadPatch(**patch), slug=taken.slug) if patch else taken
        logger.info("adopted workload %s (%s) in project %s", taken.slug, taken.id, settings.project)
        return CreateResult(id_=record.id, outs=_outputs(record, props, settings))

    def _post(self, client: ControlPlaneClient, project: str, slug: str, props: dict[str, Any]) -> WorkloadRecord:
        body = WorkloadCreate(slug=slug, task_type=props["task_type"], **_without_none(wire_fields(props)))
        try:
            return client.create_workload(project, body)
        except TransportError as exc:
            if not exc.outcome_unknown:
                raise
            # The request may have reached the server before the connection broke. The
            # slug was free a moment ago, so a workload with it now is this create's.
            found = self._find_after_lost_response(client, project, slug, exc)
            if found is None:
                raise
            logger.warning("create of workload %s lost its response; found it as %s", slug, found.id)
            return found

    def _find_after_lost_response(
        self, client: ControlPlaneClient, project: str, slug: str, lost: TransportError
    ) -> WorkloadRecord | None:
        """Return the workload with the slug once a list call to the control plane succeeds, or None.

        Raises ``lost`` when no list succeeds within LOST_CREATE_LOOKUP_SECONDS, as when the
        control plane stays down.
        """
        deadline = time.monotonic() + LOST_CREATE_LOOKUP_SECONDS
        while True:
            try:
                return client.find_workload(project, slug)
            except TransportError as exc:
                if time.monotonic() + LOST_CREATE_LOOKUP_PAUSE >= deadline:
                    raise lost
                logger.info("cannot list workloads yet to find the lost create of %s: %s", slug, exc.reason)
            time.sleep(LOST_CREATE_LOOKUP_PAUSE)

    def _remove_duplicate(self, client: ControlPlaneClient, project: str, slug: str, record: WorkloadRecord) -> None:
        # Another create took the slug between our check and our POST; the server renamed
        # ours. Keeping it would leave a workload that no program declares.
        client.delete_workload(project, record.id, slug=record.slug)
        raise WorkloadConflict(
            f"the slug was taken while creating, so the server named the new workload '{record.slug}'; "
            "that duplicate was deleted",
            operation="create workload",
            workload=slug,
            project=project,
            hint="adopt the existing workload with adopt_existing=True, or choose another slug",
        )

    # --- read ------------------------------------------------------------------------

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        project, workload_id, slug = _parse_read_id(id_, props)
        client, settings = self._client(project)
        project = settings.project

        if workload_id is not None:
            record = client.get_workload(project, workload_id, max_age=READ_LIST_MAX_AGE)
        else:
            record = client.find_workload(project, slug, max_age=READ_LIST_MAX_AGE)

        if record is None:
            # Deleted out of band: an empty id makes Pulumi drop it from the state.
            logger.info("workload %s not found in project %s; dropping it from the state", id_, project)
            return ReadResult(id_=None, outs={})

        # Live values replace the stored inputs too: the engine names the changed fields of
        # the next preview by comparing inputs, so this is what shows drift field by field.
        outputs = _outputs(record, props, settings)
        inputs = {field: outputs.get(field) for field in ALL_INPUTS}
        return ReadResult(id_=record.id, outs=outputs, inputs=inputs)

    # --- update ----------------------------------------------------------------------

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        client, settings = self._client(news.get("project"))
        patch = _patch_body(olds, news)

        if patch:
            record = client.update_workload(settings.project, id_, WorkloadPatch(**patch), slug=news["slug"])
        else:
            # Only provider-side inputs changed (wait_for_ready, ready_timeout_seconds, adopt_existing).
            record = _require(client.get_workload(settings.project, id_), id_, news, settings)

        _verify_converged(record, news, settings)
        return UpdateResult(outs=_outputs(record, news, settings))

    # --- delete ----------------------------------------------------------------------

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        client, settings = self._client(props.get("project"))
        removed = client.delete_workload(settings.project, id_, slug=props.get("slug"))
        if not removed:
            logger.info("workload %s (%s) was already gone", props.get("slug"), id_)


class WorkloadConflict(InferenceKeyError):
    """The slug is taken by a workload that this resource does not manage."""


class WorkloadDiverged(InferenceKeyError):
    """The control plane accepted an update but the workload does not have the requested values."""


# --- helpers ---------------------------------------------------------------------------


def _check_failure(failure: InputFailure, news: dict[str, Any]) -> CheckFailure:
    # The engine prints the program's value of a failing top-level input next to the
    # reason. For a value that contains a token, the failure names the input in its reason
    # and leaves the property empty, so the engine prints no value.
    if holds_token(news.get(failure.property)):
        return CheckFailure("", f"input {failure.property} {failure.reason}")
    return CheckFailure(failure.property, failure.reason)


def _differs(old: Any, new: Any) -> bool:
    if is_unknown(new):
        return True
    return normalize_numbers(_empty_as_none(old)) != normalize_numbers(_empty_as_none(new))


def _empty_as_none(value: Any) -> Any:
    return None if value in ({}, []) else value


def _without_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def _patch_body(olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
    """Return the wire fields that changed; a policy kind change always carries its config.

    A field the program leaves unset is not sent, as in diff: unset is never drift, so an
    update for another field must not clear it.
    """
    old_fields, new_fields = wire_fields(olds), wire_fields(news)
    patch = {key: value for key, value in new_fields.items() if value is not None and _differs(old_fields[key], value)}
    if "execution_policy" in patch:
        patch["execution_policy_config"] = new_fields["execution_policy_config"]
    return patch


def _outputs(record: WorkloadRecord, declared: dict[str, Any], settings: Settings) -> dict[str, Any]:
    live = live_inputs(record.model_dump(), declared)
    project = record.project_slug or settings.project
    return {
        **live,
        "project": project,
        **{field: declared.get(field) for field in LOCAL_INPUTS},
        "workload_id": record.id,
        "project_slug": project,
        "endpoint_url": f"{settings.base_url}/endpoint/{project}/{record.slug}/v1",
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def _parse_read_id(id_: str, props: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """Split a read id: a workload id (refresh) or ``project/slug`` (import)."""
    # NOTE: Pulumi's Python dynamic provider host fails an import before calling read
    # (pulumi/pulumi#16175), so the ``project/slug`` form runs only once that is fixed.
    if "/" in id_:
        project, slug = id_.split("/", 1)
        return project, None, slug
    return props.get("project"), id_, None


def _require(record: WorkloadRecord | None, id_: str, news: dict[str, Any], settings: Settings) -> WorkloadRecord:
    if record is None:
        raise WorkloadDiverged(
            f"workload {id_} no longer exists",
            operation="update workload",
            workload=news.get("slug"),
            project=settings.project,
            hint="run `pulumi refresh` so Pulumi forgets it, then `pulumi up` to create it again",
        )
    return record


def _verify_converged(record: WorkloadRecord, news: dict[str, Any], settings: Settings) -> None:
    live = live_inputs(record.model_dump(), news)
    wrong = [field for field in PLATFORM_INPUTS if news.get(field) is not None and _differs(live.get(field), news.get(field))]
    if wrong:
        details = ", ".join(f"{field} is {live.get(field)!r}, expected {news.get(field)!r}" for field in wrong)
        raise WorkloadDiverged(
            f"the control plane accepted the change but {details}",
            operation="update workload",
            workload=record.slug,
            project=settings.project,
            hint="run `pulumi refresh` to see the live values, then `pulumi up` again",
        )


__all__ = ["WorkloadProvider", "WorkloadConflict", "WorkloadDiverged", "LOCAL_INPUTS"]
