"""State of the local control plane in one SQLite file: projects, workloads and credentials.

Each call opens its own connection, so the server thread, test code and the CLI in
another process can share the file. Credentials are stored as a SHA-256 of their secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from pulumi_inferencekey.models import canonical_slug
from pulumi_inferencekey.tokens import TokenKind, mint_token, parse_token

from .exceptions import WorkloadNotFound
from .readiness import PhaseEvent, event_at, readiness_timeline

WORKLOAD_READ = "workload:read"
WORKLOAD_WRITE = "workload:write"
ASSIGNMENT_WRITE = "assignment:write"
DEFAULT_SDK_SCOPES = (WORKLOAD_WRITE, ASSIGNMENT_WRITE, WORKLOAD_READ)
READ_ONLY_SCOPES = (WORKLOAD_READ,)
SDK_SCOPES = frozenset(DEFAULT_SDK_SCOPES)
WHOLE_PROJECT = "*"

# A PATCH of one of these fields redeploys the workload, so readiness starts again.
REDEPLOY_FIELDS = frozenset({"backend", "model_name", "config"})
_JSON_FIELDS = ("config", "execution_policy_config")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    slug TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS credentials (
    token_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    project_slug TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    scopes TEXT NOT NULL,
    grants TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS workloads (
    id TEXT PRIMARY KEY,
    project_slug TEXT NOT NULL,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    task_type TEXT NOT NULL,
    backend TEXT NOT NULL,
    model_name TEXT NOT NULL,
    config TEXT,
    worker_id TEXT,
    gpu_resource_id TEXT,
    execution_policy TEXT,
    execution_policy_config TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    readiness_started_at REAL NOT NULL,
    readiness_duration REAL NOT NULL,
    UNIQUE (project_slug, slug)
);
"""


@dataclass(frozen=True)
class Credential:
    """A stored ik_sdk_ token or ik_live_ key, without its secret."""

    kind: TokenKind
    token_id: str
    project: str
    scopes: frozenset[str]
    grants: tuple[str, ...]

    @property
    def display(self) -> str:
        """Return the redacted form the platform shows, such as ``ik_sdk_1a2b3c4d…``."""
        return f"ik_{self.kind}_{self.token_id}…"

    def grants_workload(self, project: str, slug: str) -> bool:
        return f"{project}/{WHOLE_PROJECT}" in self.grants or f"{project}/{slug}" in self.grants


@dataclass(frozen=True)
class Workload:
    """A stored workload and the start of its readiness timeline."""

    id: str
    project_id: str
    project_slug: str
    slug: str
    name: str
    description: str | None
    task_type: str
    backend: str
    model_name: str
    config: dict[str, Any] | None
    worker_id: str | None
    gpu_resource_id: str | None
    execution_policy: str | None
    execution_policy_config: dict[str, Any] | None
    created_at: str
    updated_at: str
    readiness_started_at: float
    readiness_duration: float

    def timeline(self) -> list[PhaseEvent]:
        return readiness_timeline(self.slug, self.backend, self.model_name, self.readiness_duration)

    def readiness_at(self, now: float) -> PhaseEvent:
        """Return the readiness event reached at wall-clock time ``now``."""
        return event_at(self.timeline(), now - self.readiness_started_at)

    def to_json(self) -> dict[str, Any]:
        """Return the workload object of the platform's API.

        The readiness phase is left out as on the platform, so that no client comes
        to depend on a field that only the local platform sends.
        """
        return {
            "id": self.id,
            "project_id": self.project_id,
            "project_slug": self.project_slug,
            "name": self.name,
            "slug": self.slug,
            "workload_slug": self.slug,
            "description": self.description,
            "task_type": self.task_type,
            "backend": self.backend,
            "model_name": self.model_name,
            "config": self.config,
            "worker_id": self.worker_id,
            "gpu_resource_id": self.gpu_resource_id,
            "execution_policy": self.execution_policy,
            "execution_policy_config": self.execution_policy_config,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class LocalBackend:
    """Projects, workloads and credentials of the local platform, stored in SQLite.

    ``ready_after`` is the readiness duration given to workloads created or
    redeployed from now on; workloads keep the duration they started with.
    """

    def __init__(self, path: str | Path, ready_after: float = 0.0) -> None:
        self.path = Path(path)
        self.ready_after = ready_after
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    # --- credentials -------------------------------------------------------------

    def create_sdk_token(self, project: str, read_only: bool = False, scopes: Iterable[str] | None = None) -> str:
        """Create an ik_sdk_ token for ``project`` and return it; only its hash is stored.

        ``scopes`` picks the capability scopes one by one and overrides ``read_only``.
        """
        if scopes is None:
            chosen = READ_ONLY_SCOPES if read_only else DEFAULT_SDK_SCOPES
        else:
            chosen = tuple(scopes)
            unknown = sorted(set(chosen) - SDK_SCOPES)
            if unknown:
                raise ValueError(f"unknown scope '{unknown[0]}'; use {', '.join(DEFAULT_SDK_SCOPES)}")
        return self._create_credential("sdk", project, chosen, grants=())

    def create_api_key(self, project: str, workloads: list[str] | None = None) -> str:
        """Create an ik_live_ key granting ``project/<slug>`` for each workload, or ``project/*``."""
        if workloads is None:
            grants: tuple[str, ...] = (f"{project}/{WHOLE_PROJECT}",)
        else:
            grants = tuple(f"{project}/{_require_canonical('workload', slug)}" for slug in workloads)
        return self._create_credential("live", project, scopes=(), grants=grants)

    def find_credential(self, token: str) -> Credential | None:
        """Return the credential of ``token``, or None when it is malformed or unknown."""
        parsed = parse_token(token)
        if parsed is None:
            return None
        with self._connect() as db:
            row = db.execute("SELECT * FROM credentials WHERE token_id = ?", (parsed.token_id,)).fetchone()
        if row is None or row["kind"] != parsed.kind:
            return None
        if not hmac.compare_digest(row["secret_sha256"], _sha256(parsed.secret)):
            return None
        return Credential(
            kind=row["kind"],
            token_id=row["token_id"],
            project=row["project_slug"],
            scopes=frozenset(json.loads(row["scopes"])),
            grants=tuple(json.loads(row["grants"])),
        )

    def _create_credential(self, kind: TokenKind, project: str, scopes: tuple[str, ...], grants: tuple[str, ...]) -> str:
        _require_canonical("project", project)
        with self._transaction() as db:
            self._ensure_project(db, project)
            # Token ids are only 8 hex digits, so a collision is rare but possible.
            while True:
                token, parsed = mint_token(kind)
                id_in_use = db.execute("SELECT 1 FROM credentials WHERE token_id = ?", (parsed.token_id,)).fetchone()
                if not id_in_use:
                    break
            db.execute(
                "INSERT INTO credentials VALUES (?, ?, ?, ?, ?, ?, ?)",
                (parsed.token_id, kind, project, _sha256(parsed.secret), json.dumps(scopes), json.dumps(grants), _now_rfc3339()),
            )
        return token

    # --- workloads ---------------------------------------------------------------

    def list_workloads(self, project: str | None = None) -> list[Workload]:
        """Return the workloads of ``project``, or of every project, oldest first."""
        query = "SELECT w.*, p.id AS project_id FROM workloads w JOIN projects p ON p.slug = w.project_slug"
        params: tuple[str, ...] = ()
        if project is not None:
            query += " WHERE w.project_slug = ?"
            params = (project,)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY w.project_slug, w.created_at, w.rowid", params).fetchall()
        return [_workload_from_row(row) for row in rows]

    def find_workload(self, project: str, id_or_slug: str) -> Workload:
        """Return the workload of ``project`` with this id, or else this slug.

        Raises WorkloadNotFound, also for a workload of another project, so that a
        token never learns what other projects contain.
        """
        workloads = self.list_workloads(project)
        for workload in workloads:
            if workload.id == id_or_slug:
                return workload
        for workload in workloads:
            if workload.slug == id_or_slug:
                return workload
        raise WorkloadNotFound(project, id_or_slug)

    def create_workload(self, project: str, fields: dict[str, Any]) -> Workload:
        """Store a validated workload, appending ``-1``, ``-2``, … to a slug already taken."""
        now = _now_rfc3339()
        workload_id = f"wl_{secrets.token_hex(12)}"
        with self._transaction() as db:
            self._ensure_project(db, project)
            slug = _free_slug(db, project, fields["slug"])
            db.execute(
                "INSERT INTO workloads (id, project_slug, slug, name, description, task_type, backend, model_name,"
                " config, worker_id, gpu_resource_id, execution_policy, execution_policy_config, created_at,"
                " updated_at, readiness_started_at, readiness_duration)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    workload_id, project, slug, fields["name"], fields["description"], fields["task_type"],
                    fields["backend"], fields["model_name"], _dumps(fields["config"]), fields["worker_id"],
                    fields["gpu_resource_id"], fields["execution_policy"], _dumps(fields["execution_policy_config"]),
                    now, now, time.time(), self.ready_after,
                ),
            )  # fmt: skip
        return self.find_workload(project, workload_id)

    def update_workload(self, workload: Workload, fields: dict[str, Any]) -> Workload:
        """Store the fields that differ from ``workload``; a redeploying change restarts readiness."""
        changed = {field: value for field, value in fields.items() if getattr(workload, field) != value}
        if not changed:
            return workload

        columns = {field: _dumps(value) if field in _JSON_FIELDS else value for field, value in changed.items()}
        columns["updated_at"] = _now_rfc3339()
        if REDEPLOY_FIELDS & changed.keys():
            columns["readiness_started_at"] = time.time()
            columns["readiness_duration"] = self.ready_after

        assignments = ", ".join(f"{column} = ?" for column in columns)
        with self._transaction() as db:
            db.execute(f"UPDATE workloads SET {assignments} WHERE id = ?", (*columns.values(), workload.id))
        return self.find_workload(workload.project_slug, workload.id)

    def delete_workload(self, workload: Workload) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM workloads WHERE id = ?", (workload.id,))

    def reset(self) -> None:
        """Delete every project, workload and credential."""
        with self._transaction() as db:
            for table in ("workloads", "credentials", "projects"):
                db.execute(f"DELETE FROM {table}")

    # --- SQLite ------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # Autocommit mode: reads see the latest commit of any other process at once.
        db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so choosing a free slug and
        # inserting it cannot interleave with another writer.
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @staticmethod
    def _ensure_project(db: sqlite3.Connection, project: str) -> None:
        db.execute(
            "INSERT OR IGNORE INTO projects VALUES (?, ?, ?)",
            (project, f"proj_{secrets.token_hex(8)}", _now_rfc3339()),
        )


def _free_slug(db: sqlite3.Connection, project: str, slug: str) -> str:
    slugs_in_use = {row[0] for row in db.execute("SELECT slug FROM workloads WHERE project_slug = ?", (project,))}
    candidate, suffix = slug, 0
    while candidate in slugs_in_use:
        suffix += 1
        candidate = f"{slug}-{suffix}"
    return candidate


def _workload_from_row(row: sqlite3.Row) -> Workload:
    values = {key: row[key] for key in row.keys()}
    for field in _JSON_FIELDS:
        values[field] = _loads(values[field])
    return Workload(**values)


def _require_canonical(kind: str, slug: str) -> str:
    canonical = canonical_slug(slug)
    if not canonical:
        raise ValueError(f"{kind} slug '{slug}' has no letters or digits")
    if canonical != slug:
        raise ValueError(f"{kind} slug '{slug}' is not canonical; use '{canonical}'")
    return slug


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
