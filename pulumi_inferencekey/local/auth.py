"""Bearer authentication and the permission checks of both planes.

Checks run in the platform's order: token (401), plane (403 wrong_credential_type),
project (403 project_scope_mismatch), then capability or grant (403 scope_insufficient).
"""

from __future__ import annotations

from pulumi_inferencekey.tokens import LIVE_PREFIX, SDK_PREFIX, parse_token, redact

from .backend import Credential, LocalBackend
from .exceptions import ProjectScopeMismatch, ScopeInsufficient, Unauthenticated, WrongCredentialType


def authenticate(backend: LocalBackend, authorization: str | None) -> Credential:
    """Return the stored credential named by an ``Authorization: Bearer`` header value.

    Raises Unauthenticated for a missing header, another scheme, a malformed token or
    a token the platform does not know. Messages show the token only redacted.
    NOTE: local tokens never expire and cannot be revoked, so the platform's 401 for an
    expired token never occurs here.
    """
    if not authorization:
        raise Unauthenticated("missing bearer token; send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthenticated("the Authorization header must use the Bearer scheme: 'Bearer <token>'")

    token = token.strip()
    if parse_token(token) is None:
        raise Unauthenticated(
            f"malformed token {redact(token)}; expected {SDK_PREFIX}<8 hex>_<64 hex> or {LIVE_PREFIX}<8 hex>_<64 hex>"
        )
    credential = backend.find_credential(token)
    if credential is None:
        raise Unauthenticated(f"unknown token {redact(token)}; create one with 'inferencekey-local token create'")
    return credential


def authorize_control(credential: Credential, project: str | None, scope: str, action: str) -> None:
    """Check that an ik_sdk_ token may perform ``action`` in ``project`` with ``scope``.

    ``project`` is None on routes addressed by workload id, which act in the token's
    own project. ``action`` completes the sentence "lacks scope X required to ...".
    """
    if credential.kind != "sdk":
        raise WrongCredentialType(
            f"{credential.display} is a data-plane key; control-plane routes require an {SDK_PREFIX} token"
        )
    if project is not None and project != credential.project:
        raise ProjectScopeMismatch(
            f"token {credential.display} is scoped to project '{credential.project}', not '{project}'"
        )
    require_scope(credential, scope, action)


def require_scope(credential: Credential, scope: str, action: str) -> None:
    if scope not in credential.scopes:
        raise ScopeInsufficient(f"token {credential.display} lacks scope '{scope}' required to {action}")


def authorize_data(credential: Credential, project: str, workload_slug: str) -> None:
    """Check that an ik_live_ key may call inference on ``project/workload_slug``."""
    if credential.kind != "live":
        raise WrongCredentialType(
            f"{credential.display} is a control-plane token; data-plane routes require an {LIVE_PREFIX} key"
        )
    if project != credential.project:
        raise ProjectScopeMismatch(
            f"key {credential.display} belongs to project '{credential.project}', not '{project}'"
        )
    if not credential.grants_workload(project, workload_slug):
        raise ScopeInsufficient(
            f"key {credential.display} has no grant for workload '{project}/{workload_slug}'; "
            f"it grants {', '.join(credential.grants)}"
        )
