"""Resolution and validation of the base URL, project and SDK token, before any request.

Each value comes from the first source that sets it: explicit argument (a resource
input), stack config, environment variable, default.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pulumi_inferencekey.errors import ConfigurationError
from pulumi_inferencekey.models import canonical_slug
from pulumi_inferencekey.tokens import LIVE_PREFIX, SDK_PREFIX, parse_token, redact

DEFAULT_BASE_URL = "https://api.inferencekey.com"

BASE_URL_CONFIG = "inferencekey:baseUrl"
PROJECT_CONFIG = "inferencekey:project"
SDK_TOKEN_CONFIG = "inferencekey:sdkToken"

BASE_URL_ENV = "INFERENCEKEY_BASE_URL"
PROJECT_ENV = "INFERENCEKEY_PROJECT"
SDK_TOKEN_ENV = "INFERENCEKEY_SDK_TOKEN"

_SET_TOKEN_HINT = (
    f"set the secret stack config `pulumi config set --secret {SDK_TOKEN_CONFIG} ik_sdk_...` "
    f"or the environment variable {SDK_TOKEN_ENV}, with an SDK token from the dashboard's Tokens screen"
)


@dataclass(frozen=True)
class Settings:
    """Connection settings: the control plane URL, the default project and the SDK token to send."""

    base_url: str
    project: str | None
    sdk_token: str = field(repr=False)

    @property
    def redacted_token(self) -> str:
        """Display form of the token, such as ``ik_sdk_1a2b3c4d…``."""
        return redact(self.sdk_token)

    def __repr__(self) -> str:
        return f"Settings(base_url={self.base_url!r}, project={self.project!r}, sdk_token={self.redacted_token!r})"


def resolve_settings(
    *,
    base_url: str | None = None,
    project: str | None = None,
    sdk_token: str | None = None,
    config: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve and validate the settings; raise ConfigurationError naming the source of a bad value.

    ``config`` is the stack config keyed like ``inferencekey:baseUrl``; ``environ``
    defaults to ``os.environ``. Empty and blank values count as unset.
    """
    config = config or {}
    environ = os.environ if environ is None else environ

    url, url_source = _first_set(
        ("base_url", base_url), (BASE_URL_CONFIG, config.get(BASE_URL_CONFIG)), (BASE_URL_ENV, environ.get(BASE_URL_ENV))
    )
    slug, slug_source = _first_set(
        ("project", project), (PROJECT_CONFIG, config.get(PROJECT_CONFIG)), (PROJECT_ENV, environ.get(PROJECT_ENV))
    )
    token, token_source = _first_set(
        ("sdk_token", sdk_token), (SDK_TOKEN_CONFIG, config.get(SDK_TOKEN_CONFIG)), (SDK_TOKEN_ENV, environ.get(SDK_TOKEN_ENV))
    )

    return Settings(
        base_url=validate_base_url(url or DEFAULT_BASE_URL, url_source or BASE_URL_CONFIG),
        project=validate_project_slug(slug, slug_source) if slug is not None else None,
        sdk_token=validate_sdk_token(token, token_source or SDK_TOKEN_CONFIG),
    )


def _first_set(*candidates: tuple[str, str | None]) -> tuple[str | None, str | None]:
    # Return the first non-blank value and the name of its source.
    for source, value in candidates:
        if value is not None and value.strip():
            return value.strip(), source
    return None, None


def validate_sdk_token(token: str | None, field: str) -> str:
    """Return ``token`` if it is a well-formed ``ik_sdk_`` token; never put the token in a message."""
    if not token:
        raise ConfigurationError(field, "no SDK token is set", hint=_SET_TOKEN_HINT)

    if token.startswith(LIVE_PREFIX):
        raise ConfigurationError(
            field,
            f"{redact(token)} is a data-plane key (ik_live_), which can call inference but cannot provision workloads",
            hint=f"give the control-plane SDK token (ik_sdk_) instead; {_SET_TOKEN_HINT}",
        )

    parsed = parse_token(token)
    if parsed is None or parsed.kind != "sdk":
        if token.startswith(SDK_PREFIX):
            reason = "the SDK token starts with ik_sdk_ but is not ik_sdk_<8 hex id>_<64 hex secret>"
        else:
            reason = "the SDK token does not start with ik_sdk_ (expected ik_sdk_<8 hex id>_<64 hex secret>)"
        raise ConfigurationError(
            field,
            reason,
            hint=f"copy the whole token again from the dashboard; {_SET_TOKEN_HINT}",
        )
    return token


def validate_base_url(url: str, field: str) -> str:
    """Return ``url`` without trailing slashes if it is https, or http to a loopback host.

    Plain http to any other host would send the token in clear text, so it is rejected.
    """
    parts = urlsplit(url)
    example = f"such as {DEFAULT_BASE_URL} or http://127.0.0.1:8080"

    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            field,
            f"base URL {url!r} is not an http(s) URL with a host",
            hint=f"set an absolute URL, {example}",
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(
            field,
            f"base URL {url!r} has a query or fragment, which request paths cannot be appended to",
            hint=f"remove everything after the path, {example}",
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigurationError(
            field,
            f"base URL {url!r} uses plain http to a host that is not loopback, so the token would travel in clear text",
            hint="use https, or http only to localhost, 127.0.0.0/8 or ::1",
        )
    return url.rstrip("/")


def is_loopback_host(host: str) -> bool:
    """Tell whether ``host`` is ``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_project_slug(value: str, field: str) -> str:
    """Return ``value`` if it is a project slug in canonical form, such as ``acme-prod``."""
    canonical = canonical_slug(value)
    if not canonical:
        raise ConfigurationError(
            field,
            f"project {value!r} has no letters or digits",
            hint="set the project's slug as shown on the dashboard, such as 'acme-prod'",
        )
    if canonical != value:
        raise ConfigurationError(
            field,
            f"project {value!r} is not a slug",
            hint=f"use its slug {canonical!r}, as shown on the dashboard",
        )
    return value
