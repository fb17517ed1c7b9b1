"""Resolution order and validation of the base URL, project and SDK token."""

from __future__ import annotations

import pytest

from pulumi_inferencekey.errors import ConfigurationError
from pulumi_inferencekey.settings import DEFAULT_BASE_URL, Settings, resolve_settings, validate_project_slug

SECRET = "5e" * 32
TOKEN_ARG = f"ik_sdk_aaaaaaaa_{SECRET}"
TOKEN_CONFIG = f"ik_sdk_bbbbbbbb_{SECRET}"
TOKEN_ENV = f"ik_sdk_cccccccc_{SECRET}"
LIVE_KEY = f"ik_live_1a2b3c4d_{SECRET}"

FULL_CONFIG = {
    "inferencekey:baseUrl": "https://config.example",
    "inferencekey:project": "from-config",
    "inferencekey:sdkToken": TOKEN_CONFIG,
}
FULL_ENV = {
    "INFERENCEKEY_BASE_URL": "https://env.example",
    "INFERENCEKEY_PROJECT": "from-env",
    "INFERENCEKEY_SDK_TOKEN": TOKEN_ENV,
}
ARGUMENTS = {"base_url": "https://arg.example", "project": "from-arg", "sdk_token": TOKEN_ARG}


@pytest.mark.parametrize(
    ("arguments", "config", "environ", "expected"),
    [
        (ARGUMENTS, FULL_CONFIG, FULL_ENV, ("https://arg.example", "from-arg", TOKEN_ARG)),
        ({}, FULL_CONFIG, FULL_ENV, ("https://config.example", "from-config", TOKEN_CONFIG)),
        ({}, {}, FULL_ENV, ("https://env.example", "from-env", TOKEN_ENV)),
        ({}, None, FULL_ENV, ("https://env.example", "from-env", TOKEN_ENV)),
        ({"sdk_token": TOKEN_ARG}, {}, {}, (DEFAULT_BASE_URL, None, TOKEN_ARG)),
        ({"project": "from-arg"}, FULL_CONFIG, {}, ("https://config.example", "from-arg", TOKEN_CONFIG)),
        ({}, {"inferencekey:sdkToken": TOKEN_CONFIG}, FULL_ENV, ("https://env.example", "from-env", TOKEN_CONFIG)),
        (
            {"base_url": "", "project": "  ", "sdk_token": None},
            {"inferencekey:baseUrl": ""},
            FULL_ENV,
            ("https://env.example", "from-env", TOKEN_ENV),
        ),
        ({}, {"inferencekey:sdkToken": f"  {TOKEN_CONFIG}\n"}, {}, (DEFAULT_BASE_URL, None, TOKEN_CONFIG)),
    ],
    ids=[
        "argument-beats-config-and-env",
        "config-beats-env",
        "env-when-config-empty",
        "env-when-config-none",
        "default-base-url-and-no-project",
        "each-field-resolved-on-its-own",
        "token-from-config-rest-from-env",
        "blank-values-count-as-unset",
        "surrounding-whitespace-stripped",
    ],
)
def test_resolve_settings__precedence(arguments, config, environ, expected):
    settings = resolve_settings(**arguments, config=config, environ=environ)

    assert (settings.base_url, settings.project, settings.sdk_token) == expected


def test_resolve_settings__reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("INFERENCEKEY_SDK_TOKEN", TOKEN_ENV)
    monkeypatch.setenv("INFERENCEKEY_PROJECT", "from-env")
    monkeypatch.delenv("INFERENCEKEY_BASE_URL", raising=False)

    settings = resolve_settings()

    assert (settings.base_url, settings.project, settings.sdk_token) == (DEFAULT_BASE_URL, "from-env", TOKEN_ENV)


def _configuration_error(**kwargs) -> ConfigurationError:
    kwargs.setdefault("environ", {})
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(**kwargs)
    return caught.value


def test_missing_token__names_config_and_env():
    error = _configuration_error(project="acme")

    assert error.field == "inferencekey:sdkToken"
    assert str(error).startswith("invalid inferencekey:sdkToken: no SDK token is set. Fix: ")
    assert "`pulumi config set --secret inferencekey:sdkToken ik_sdk_...`" in error.hint
    assert "INFERENCEKEY_SDK_TOKEN" in error.hint


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sdk_token": LIVE_KEY}, "sdk_token"),
        ({"config": {"inferencekey:sdkToken": LIVE_KEY}}, "inferencekey:sdkToken"),
        ({"environ": {"INFERENCEKEY_SDK_TOKEN": LIVE_KEY}}, "INFERENCEKEY_SDK_TOKEN"),
    ],
    ids=["argument", "config", "env"],
)
def test_live_key_as_sdk_token__rejected_without_secret(kwargs, field):
    error = _configuration_error(**kwargs)

    assert error.field == field
    assert SECRET not in str(error)
    assert "ik_live_1a2b3c4d… is a data-plane key (ik_live_)" in str(error)
    assert "cannot provision workloads" in error.reason
    assert error.hint.startswith("give the control-plane SDK token (ik_sdk_) instead")


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (f"ik_sdk_aaaaaaaa_{SECRET[:-1]}", "starts with ik_sdk_ but is not"),
        (f"ik_sdk_AAAAAAAA_{SECRET}", "starts with ik_sdk_ but is not"),
        (f"ik_sdk_aaaaaaaa_{SECRET} extra", "starts with ik_sdk_ but is not"),
        (f"sk-{SECRET}", "does not start with ik_sdk_"),
        (f"Bearer ik_sdk_aaaaaaaa_{SECRET}", "does not start with ik_sdk_"),
    ],
    ids=["short-secret", "uppercase-id", "trailing-text", "foreign-key", "with-bearer-prefix"],
)
def test_malformed_token__rejected_without_secret(token, reason):
    error = _configuration_error(config={"inferencekey:sdkToken": token})

    assert error.field == "inferencekey:sdkToken"
    assert reason in error.reason
    assert SECRET[:16] not in str(error)
    assert "copy the whole token again" in error.hint


@pytest.mark.parametrize(
    ("base_url", "reason"),
    [
        ("ftp://files.example", "is not an http(s) URL with a host"),
        ("api.inferencekey.com", "is not an http(s) URL with a host"),
        ("https://", "is not an http(s) URL with a host"),
        ("https://api.example/?region=eu", "has a query or fragment"),
        ("http://api.inferencekey.com", "uses plain http to a host that is not loopback"),
        ("http://10.0.0.5:8080", "uses plain http to a host that is not loopback"),
        ("http://localhost.example.com", "uses plain http to a host that is not loopback"),
        ("http://[::2]:8080", "uses plain http to a host that is not loopback"),
    ],
    ids=["ftp", "no-scheme", "no-host", "query", "http-public", "http-private-ip", "http-localhost-lookalike", "http-ipv6"],
)
def test_bad_base_url__rejected(base_url, reason):
    error = _configuration_error(config={"inferencekey:baseUrl": base_url}, sdk_token=TOKEN_ARG)

    assert error.field == "inferencekey:baseUrl"
    assert reason in error.reason
    assert base_url in error.reason


def test_http_base_url__fix_says_https_or_loopback():
    error = _configuration_error(base_url="http://api.inferencekey.com", sdk_token=TOKEN_ARG)

    assert error.field == "base_url"
    assert error.hint == "use https, or http only to localhost, 127.0.0.0/8 or ::1"


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.5.6.7", "http://127.5.6.7"),
        ("http://localhost:1234/", "http://localhost:1234"),
        ("http://LOCALHOST:1234", "http://LOCALHOST:1234"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("https://10.0.0.5", "https://10.0.0.5"),
        ("https://gateway.example/inferencekey//", "https://gateway.example/inferencekey"),
    ],
    ids=["ipv4-loopback", "loopback-range", "localhost-trailing-slash", "localhost-uppercase", "ipv6-loopback", "https-private", "https-with-path"],
)
def test_base_url__accepted(base_url, expected):
    settings = resolve_settings(base_url=base_url, sdk_token=TOKEN_ARG, environ={})

    assert settings.base_url == expected


@pytest.mark.parametrize(
    ("project", "reason", "hint"),
    [
        ("Acme Corp", "project 'Acme Corp' is not a slug", "use its slug 'acme-corp', as shown on the dashboard"),
        ("acme_prod", "project 'acme_prod' is not a slug", "use its slug 'acme-prod', as shown on the dashboard"),
        ("---", "project '---' has no letters or digits", "set the project's slug as shown on the dashboard, such as 'acme-prod'"),
    ],
    ids=["spaces-and-capitals", "underscore", "no-letters"],
)
def test_project_not_slug__rejected(project, reason, hint):
    error = _configuration_error(environ={"INFERENCEKEY_PROJECT": project, "INFERENCEKEY_SDK_TOKEN": TOKEN_ENV})

    assert error.field == "INFERENCEKEY_PROJECT"
    assert error.reason == reason
    assert error.hint == hint


def test_validate_project_slug__returns_canonical_value():
    assert validate_project_slug("acme-prod-2", "project") == "acme-prod-2"


def test_settings_repr__shows_redacted_token():
    settings = Settings(base_url="https://api.example", project="acme", sdk_token=f"ik_sdk_1a2b3c4d_{SECRET}")

    assert repr(settings) == "Settings(base_url='https://api.example', project='acme', sdk_token='ik_sdk_1a2b3c4d…')"
    assert SECRET not in str(settings)


def test_settings_redacted_token():
    settings = Settings(base_url="https://api.example", project=None, sdk_token=f"ik_sdk_1a2b3c4d_{SECRET}")

    assert settings.redacted_token == "ik_sdk_1a2b3c4d…"
