"""Per-tenant request budget shared by every SCIM endpoint (``SCIM_RATE_LIMIT``).

Built on ``limits`` (the engine behind Flask-Limiter) with a storage URI, so several worker processes
share one budget through Redis (``SCIM_RATE_LIMIT_STORAGE_URI=redis://...``); ``memory://`` is per
process. A fixed window matches the product's "5,000 requests per day" wording and costs one counter
increment per request. If the storage is unreachable the request is let through and the failure logged:
a broken limiter must not stop provisioning.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

log = logging.getLogger(__name__)
NAMESPACE = "scim-plugin"


@dataclass(frozen=True)
class Budget:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # epoch seconds
    retry_after: int

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class TenantRateLimiter:
    def __init__(self, rate: str, storage_uri: str) -> None:
        self.item: RateLimitItem | None = None if rate.lower() == "off" else parse(rate)
        self.limiter = FixedWindowRateLimiter(storage_from_string(storage_uri)) if self.item else None

    def hit(self, tenant_id: str) -> Budget | None:
        """Spend one request of the tenant's budget; ``None`` when limiting is off or unavailable."""
        if self.item is None or self.limiter is None:
            return None
        try:
            allowed = self.limiter.hit(self.item, NAMESPACE, tenant_id)
            stats = self.limiter.get_window_stats(self.item, NAMESPACE, tenant_id)
        except Exception:
            log.exception("SCIM rate-limit storage unavailable; letting the request through")
            return None
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        reset_at = math.ceil(stats.reset_time)
        return Budget(allowed, self.item.amount, max(stats.remaining, 0), reset_at, retry_after)
