"""Retry delays: jittered exponential backoff, Retry-After parsing and reconnect delays."""

from __future__ import annotations

import pytest

from pulumi_inferencekey.client import RetryPolicy, parse_retry_after

POLICY = RetryPolicy(base_delay=0.25, max_delay=5.0)


@pytest.mark.parametrize(
    ("retry", "rand", "expected"),
    [
        (1, 0.0, 0.125),
        (1, 1.0, 0.25),
        (2, 1.0, 0.5),
        (3, 0.5, 0.75),
        (5, 1.0, 4.0),
        (6, 1.0, 5.0),
        (30, 0.0, 2.5),
    ],
    ids=["first-min", "first-max", "second-max", "third-mid", "fifth-max", "capped", "capped-min"],
)
def test_retry_delay__jittered_backoff(retry, rand, expected):
    assert POLICY.retry_delay(retry, rand=lambda: rand) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(2.0, 2.0), (0.0, 0.0), (60.0, 5.0), (-3.0, 0.0)],
    ids=["within-cap", "zero", "capped-at-max-delay", "negative"],
)
def test_retry_delay__uses_retry_after(retry_after, expected):
    assert POLICY.retry_delay(4, retry_after=retry_after, rand=lambda: 0.0) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        ("1.5", 1.5),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:28:10", 10.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
    ids=[
        "seconds",
        "fractional-seconds",
        "padded",
        "zero",
        "http-date",
        "http-date-past",
        "http-date-without-zone",
        "absent",
        "empty",
        "garbage",
        "nan",
        "infinite",
    ],
)
def test_parse_retry_after(header, expected):
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT

    assert parse_retry_after(header, now=now) == expected


@pytest.mark.parametrize(("failures", "expected"), [(0, 1.0), (1, 2.0), (2, 4.0), (3, 5.0), (10, 5.0)], ids=str)
def test_reconnect_delay__sequence_then_last(failures, expected):
    assert RetryPolicy().reconnect_delay(failures) == expected


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"base_delay": -1.0}, {"total_timeout": 0.0}, {"reconnect_delays": ()}],
    ids=["no-attempts", "negative-delay", "no-budget", "no-reconnect-delays"],
)
def test_retry_policy__rejects_invalid_bounds(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)
