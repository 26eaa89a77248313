"""Failed-authentication throttling per client address (issue 13 finding 8).

After ``limit`` failed key checks from one address within ``window`` seconds, that address
gets 429 with ``Retry-After`` (seconds until its oldest counted failure leaves the window)
instead of another 401, whatever key it sends; a successful check clears its count. The
counts live in each worker process (``--workers 2`` allows up to 2 x ``limit`` guesses per
window): enough to turn guessing 10^30 keys from slow into hopeless without a shared store.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from patmatch.errors import AuthenticationError

FAILURE_LIMIT = 20
WINDOW_SECONDS = 60.0
MAX_ADDRESSES = 100_000  # bounded memory under a spray of source addresses


class TooManyAuthFailuresError(AuthenticationError):
    """Too many failed key checks from this address; retry after ``details.retry_after``."""

    code = "auth.throttled"


class AuthThrottle:
    def __init__(self, limit: int = FAILURE_LIMIT, window: float = WINDOW_SECONDS,
                 clock=time.monotonic) -> None:  # noqa: ANN001 - a test passes a fake clock
        self.limit, self.window, self.clock = limit, window, clock
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, address: str) -> None:
        """Raise TooManyAuthFailuresError while ``address`` is over the limit."""
        now = self.clock()
        with self._lock:
            q = self._fails.get(address)
            if not q:
                return
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                wait = max(1, math.ceil(q[0] + self.window - now))
                raise TooManyAuthFailuresError(
                    f"too many failed API key checks from this address; retry in {wait} s",
                    details={"retry_after": wait, "limit": self.limit,
                             "window_seconds": self.window})

    def failed(self, address: str) -> None:
        with self._lock:
            if address not in self._fails and len(self._fails) >= MAX_ADDRESSES:
                self._fails.pop(next(iter(self._fails)))
            self._fails.setdefault(address, deque(maxlen=self.limit)).append(self.clock())

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._fails.pop(address, None)
