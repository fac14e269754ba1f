"""Who may arm the crash switch: a deliberate local client, never a cross-site request."""

from __future__ import annotations

from shared.local_only import ACTION_HEADER, crash_request, refusal

LOCAL = {"Host": "127.0.0.1:6067", ACTION_HEADER: "crash"}


def test_the_cli_request_is_accepted() -> None:
    req = crash_request(6067)
    headers = {"Host": "127.0.0.1:6067", **dict(req.header_items())}
    assert req.get_method() == "POST"
    assert refusal({k.title(): v for k, v in headers.items()}, "crash") is None
    assert refusal(LOCAL, "crash") is None
    assert refusal({**LOCAL, "Origin": "http://127.0.0.1:6067"}, "crash") is None
    assert refusal({**LOCAL, "Host": "localhost:6067"}, "crash") is None


def test_simple_and_foreign_requests_are_refused() -> None:
    form_post = {"Host": "127.0.0.1:6067", "Content-Type": "application/x-www-form-urlencoded"}
    assert "missing header" in str(refusal(form_post, "crash"))
    assert "missing header" in str(refusal({**LOCAL, ACTION_HEADER: "other"}, "crash"))
    foreign = refusal({**LOCAL, "Origin": "http://evil.example"}, "crash")
    assert foreign == "Origin 'http://evil.example' is not this server"
    other_port = refusal({**LOCAL, "Origin": "http://127.0.0.1:9999"}, "crash")
    assert other_port == "Origin 'http://127.0.0.1:9999' is not this server"
    rebound = refusal({**LOCAL, "Host": "attacker.example:6067"}, "crash")
    assert rebound == "Host 'attacker.example:6067' is not a loopback name"
    assert refusal({**LOCAL, "Host": ""}, "crash") == "Host '' is not a loopback name"
