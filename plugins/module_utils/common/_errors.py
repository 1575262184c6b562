# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed errors shared by the engine (internal to the collection; no stable API)."""

from __future__ import annotations


class HybridIdentityError(Exception):
    """An error a person can act on: ``str(err)`` says what happened, ``hint`` what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class ConfigurationError(HybridIdentityError):
    """Options that can't work together."""
