"""Password hashing with argon2id. CPU-heavy: the hub calls these from worker threads only."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tradewire.config import AuthSettings


class Passwords:
    """Hashes and verifies passwords with the configured argon2id cost."""

    def __init__(self, settings: AuthSettings | None = None) -> None:
        settings = settings or AuthSettings()
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        # Verified against when the user does not exist, so an unknown name costs the same
        # time as a wrong password and the two cannot be told apart.
        self._decoy = self._hasher.hash("tradewire-decoy-password")

    def hash(self, password: str) -> str:
        """An argon2id hash string of ``password``."""
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when ``password`` matches ``stored_hash``; ``None`` burns the same time, False."""
        try:
            return self._hasher.verify(stored_hash or self._decoy, password) and (
                stored_hash is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
