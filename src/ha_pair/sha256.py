"""SHA-256 without OpenSSL: routers have no python3-openssl, and elsewhere hashlib would map all
of libcrypto (~3 MB) into the long-running agent."""

from __future__ import annotations

try:
    from _sha256 import sha256  # Python 3.11
except ImportError:
    try:
        from _sha2 import sha256  # Python 3.12+
    except ImportError:
        from hashlib import sha256

__all__ = ["sha256"]
