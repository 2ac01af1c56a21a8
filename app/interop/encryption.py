"""LRS passwords and badge signing keys, encrypted at rest with the app's Fernet keys
(`ENCRYPTION_KEYS`, `app.encryption`): the first key encrypts, every one decrypts, so a key is
rotated by putting a new one first and running `interop rotate-secrets`.
"""

from __future__ import annotations

from cryptography.fernet import MultiFernet
from flask import current_app

from app.encryption import InvalidToken, cipher_from_config

__all__ = ["InvalidToken", "decrypt", "encrypt", "fernet", "rotate"]


def fernet() -> MultiFernet:
    config = current_app.config
    return cipher_from_config(config.get("ENCRYPTION_KEYS"), config["SECRET_KEY"])


def encrypt(plain: str) -> str:
    return fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    return fernet().decrypt(token.encode()).decode()


def rotate(token: str) -> str:
    """The same secret encrypted with the first (newest) key."""
    return fernet().rotate(token.encode()).decode()
