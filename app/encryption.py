"""Secrets that must be read back (an identity provider's client secret, an LRS password),
encrypted at rest with Fernet keys from the configuration.

`ENCRYPTION_KEYS` holds one or more Fernet keys separated by commas: the first encrypts,
every one decrypts, so a key is rotated by putting a new one first and re-saving the
secrets. Unset, a key derived from `SECRET_KEY` is used (fine for development; set your own
in production so that changing `SECRET_KEY` does not lose the stored secrets).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["InvalidToken", "cipher_from_config"]


def cipher_from_config(encryption_keys: str | None, secret_key: str) -> MultiFernet:
    """The MultiFernet of the configured keys (or of one derived from the secret key)."""
    keys = [key.strip() for key in (encryption_keys or "").split(",") if key.strip()]
    if not keys:
        derived = hashlib.sha256(b"nanolearn-encryption:" + secret_key.encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(key) for key in keys])
