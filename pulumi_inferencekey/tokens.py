"""InferenceKey credentials: the two token kinds, their format and their redaction.

A token reads ``ik_<kind>_<8 hex id>_<64 hex secret>``. Only the kind and the first
eight characters of the id are ever shown; the secret never leaves this module's callers.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Literal

TokenKind = Literal["sdk", "live"]

SDK_PREFIX = "ik_sdk_"
LIVE_PREFIX = "ik_live_"
TOKEN_PREFIXES = (SDK_PREFIX, LIVE_PREFIX)

_TOKEN = re.compile(r"^ik_(sdk|live)_([0-9a-f]{8})_([0-9a-f]{64})$")

# Anything in free text that starts like a token, up to the next character that cannot
# belong to one. Used to scrub messages that may echo a request or a header.
_TOKEN_IN_TEXT = re.compile(r"ik_(sdk|live)_[A-Za-z0-9_\-]*")
_REDACTED_TOKEN = re.compile(r"^ik_(sdk|live)_([0-9a-f]{8})?$")
_WHOLE_TOKEN_IN_TEXT = re.compile(r"ik_(?:sdk|live)_[0-9a-f]{8}_[0-9a-f]{64}")


@dataclass(frozen=True)
class ParsedToken:
    """A well-formed token split into its parts."""

    kind: TokenKind
    token_id: str
    secret: str


def parse_token(token: str) -> ParsedToken | None:
    """Split a token into kind, id and secret, or return None when it is malformed."""
    match = _TOKEN.match(token or "")
    if match is None:
        return None
    kind, token_id, secret = match.groups()
    return ParsedToken(kind=kind, token_id=token_id, secret=secret)  # type: ignore[arg-type]


def redact(token: str | None) -> str:
    """Return the platform's display form of a token: ``ik_sdk_1a2b3c4d…`` or ``ik…``."""
    parsed = parse_token(token or "")
    if parsed is None:
        return "ik…"
    return f"ik_{parsed.kind}_{parsed.token_id}…"


def scrub(text: str) -> str:
    """Replace every token-like substring of ``text`` with its redacted form.

    An already redacted token (``ik_sdk_1a2b3c4d…``) is left as it is, so scrubbing
    twice changes nothing.
    """
    return _TOKEN_IN_TEXT.sub(lambda match: _redact_fragment(match.group(0)), text)


def _redact_fragment(fragment: str) -> str:
    # A bare prefix, or a kind and id alone, carry no secret: they are what redaction shows.
    if _REDACTED_TOKEN.match(fragment):
        return fragment

    # A fragment may run into following text (``..._<secret>_and_more``), so only its
    # first 8 + 64 hex characters after the prefix are tried as a token.
    kind = "sdk" if fragment.startswith(SDK_PREFIX) else "live"
    head = fragment[: len(f"ik_{kind}_") + 8 + 1 + 64]
    return redact(head)


def looks_like_token(value: object) -> bool:
    """Tell whether a value is a string that starts with a token prefix."""
    return isinstance(value, str) and value.strip().startswith(TOKEN_PREFIXES)


def contains_token(text: str) -> bool:
    """Tell whether ``text`` contains a whole well-formed token anywhere."""
    return _WHOLE_TOKEN_IN_TEXT.search(text) is not None


def mint_token(kind: TokenKind) -> tuple[str, ParsedToken]:
    """Create a new random token of the given kind and return it with its parts."""
    token_id = secrets.token_hex(4)
    secret = secrets.token_hex(32)
    token = f"ik_{kind}_{token_id}_{secret}"
    return token, ParsedToken(kind=kind, token_id=token_id, secret=secret)
