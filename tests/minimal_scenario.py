"""The smallest valid scenario, shared by the tests, and the way a test writes its variant of it.

A test that needs more than the minimal scenario says what it adds or changes, in the text of
the file, with :func:`minimal_toml`; the numbers its assertions depend on are then in the test
itself. Import it as ``from minimal_scenario import MINIMAL_TOML, minimal_toml`` (``tests/`` is
on ``sys.path`` through ``tests/conftest.py``).
"""

from __future__ import annotations

# Nothing but the required keys: one pool of 4 servers, one product with exponential 100 ms
# service, a one-step journey and one partner of 1000 users at 2 sessions a day.
MINIMAL_TOML = """\
[bank.pools.core]
servers = 4

[bank.products.pay]
pool = "core"
service_time = { dist = "exponential", mean = "100ms" }

[journeys.buy]
steps = [{ product = "pay" }]

[[partners]]
name = "shop"
users = 1000
sessions_per_user_day = 2.0
journey = "buy"
"""


def minimal_toml(*edits: tuple[str, str], prepend: str = "", append: str = "") -> str:
    """:data:`MINIMAL_TOML` with ``edits`` made, ``prepend`` before it and ``append`` after it.

    Args:
        edits: ``(old, new)`` replacements, made in order; each ``old`` occurs exactly once in
            the text at that point.
        prepend: top-level keys and tables put before the minimal text (``name``, ``[run]``).
        append: text put after it: inside the ``[[partners]]`` entry unless it opens a table.
    """
    text = MINIMAL_TOML
    for old, new in edits:
        if text.count(old) != 1:
            raise ValueError(f"{old!r} occurs {text.count(old)} times in the scenario, not once")
        text = text.replace(old, new)
    return prepend + text + append
