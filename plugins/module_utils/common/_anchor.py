# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Source anchor conversions (internal to the collection; no stable API).

Rule book §3: the ImmutableId is base64 of the 16 bytes as AD stores them, which is
the little-endian GUID layout (``uuid.UUID(...).bytes_le``), not ``.bytes``.
"""

from __future__ import annotations

import base64
import binascii
import uuid


class AnchorError(ValueError):
    """A value is neither a GUID nor an ImmutableId."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint or ("give the cloud user's onPremisesImmutableId (the base64 of 16 bytes, 24 characters "
                             "ending in ==) or a GUID such as 9a7ed32a-0ab4-4d46-aa48-2d7d273334f6")


def guid_bytes(value: str | bytes | uuid.UUID) -> bytes:
    """The 16 bytes AD stores for a GUID string, UUID object or raw bytes."""
    if isinstance(value, uuid.UUID):
        return value.bytes_le
    if isinstance(value, bytes | bytearray):
        if len(value) != 16:
            raise AnchorError(f"a GUID is 16 bytes, got {len(value)}")
        return bytes(value)
    try:
        return uuid.UUID(value.strip().strip("{}")).bytes_le
    except (ValueError, AttributeError) as err:
        raise AnchorError(f"{value!r} is not a GUID", hint="write it as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx") from err


def immutable_id(value: str | bytes | uuid.UUID) -> str:
    """ImmutableId (base64) of an objectGUID or mS-DS-ConsistencyGuid."""
    return base64.b64encode(guid_bytes(value)).decode("ascii")


def anchor_bytes(value: str) -> bytes:
    """The 16 bytes behind an ImmutableId."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError, AttributeError) as err:
        raise AnchorError(
            f"{value!r} is not an ImmutableId (base64 of 16 bytes)",
            hint="use the cloud user's onPremisesImmutableId, or convert a GUID with the immutable_id filter",
        ) from err
    if len(raw) != 16:
        raise AnchorError(f"{value!r} decodes to {len(raw)} bytes; an ImmutableId holds 16")
    return raw


def object_guid(value: str) -> str:
    """The GUID string (as AD shows objectGUID) behind an ImmutableId."""
    return str(uuid.UUID(bytes_le=anchor_bytes(value)))


def anchor_from_any(value: str) -> bytes:
    """16 bytes from either a GUID string or an ImmutableId; GUID syntax wins when both could apply."""
    try:
        return guid_bytes(value)
    except AnchorError:
        return anchor_bytes(value)
