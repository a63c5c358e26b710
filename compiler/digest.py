"""sha256 for the compile path: CPython's built-in implementation where it has one, because
`hashlib` loads OpenSSL (~3 ms, paid by every validate and compile); same digests either way."""

from __future__ import annotations

try:
    from _sha256 import sha256  # CPython 3.11
except ImportError:  # other versions and interpreters
    from hashlib import sha256


def sha256_hex(data: bytes | str) -> str:
    """Hex sha256 of bytes, or of a string's UTF-8."""
    return sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()
