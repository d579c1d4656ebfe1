"""The HMAC-SHA256 request signature every serinus webhook carries (notifications and gates).

What a receiver implements:

- `X-Serinus-Timestamp`: Unix seconds when the request was signed.
- `X-Serinus-Signature`: `sha256=` + hex HMAC-SHA256, keyed with the shared secret (UTF-8), of
  the bytes `<timestamp>` + `.` + `<raw request body>`.
- The receiver recomputes the HMAC over the raw body it received (before parsing the JSON),
  compares in constant time, and rejects timestamps further than a tolerance (5 minutes) from its
  clock; `X-Serinus-Delivery` (the same on every retry of one delivery) lets it drop duplicates.

Neutral ground: the notifier and gate adapter families both sign, and stay independent.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Serinus-Signature"
TIMESTAMP_HEADER = "X-Serinus-Timestamp"
DELIVERY_HEADER = "X-Serinus-Delivery"
DEFAULT_TOLERANCE_SECONDS = 300.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` over `<timestamp>.<body>`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify_signature(
    secret: str,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True when the signature matches the body and timestamp and the timestamp is recent."""
    try:
        signed_at = int(timestamp)
    except ValueError:
        return False
    if abs(now - signed_at) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
