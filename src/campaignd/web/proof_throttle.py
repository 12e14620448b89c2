"""The test send limit per organization (``TEST_SEND_MAX_REQUESTS`` per ``TEST_SEND_WINDOW``),
shared by the API and the admin page; with Redis, by every instance."""

from __future__ import annotations

from fastapi import Request

from campaignd.web.throttle import LoginThrottle, create_throttle


def test_send_throttle(request: Request) -> LoginThrottle:
    """The application's test send throttle, made on first use (closed when it stops)."""
    state = request.app.state
    throttle: LoginThrottle | None = getattr(state, "test_send_throttle", None)
    if throttle is None:
        settings = state.services.settings
        throttle = create_throttle(
            settings,
            limit=settings.test_send_max_requests,
            window=settings.test_send_window,
            name="test-sends",
        )
        state.test_send_throttle = throttle
    return throttle
