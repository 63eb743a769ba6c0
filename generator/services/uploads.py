"""Uploaded files as services take them: a Django upload or (file name, bytes), its size
checked against settings.MAX_UPLOAD_BYTES before it is read."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from django.conf import settings

from common.errors import UploadTooLarge


class UploadedFile(Protocol):
    """What the upload of a form or an API request offers (Django's UploadedFile)."""

    name: str | None
    size: int | None

    def seek(self, offset: int) -> Any: ...

    def read(self) -> bytes: ...


Upload = UploadedFile | tuple[str, bytes]  # an uploaded file, or (file name, its bytes)


def upload_read(upload: Upload, *, field: str) -> tuple[str, bytes]:
    """(file name, bytes) of an upload, refused with UploadTooLarge before it is read when
    it is larger than settings.MAX_UPLOAD_BYTES. Nothing is stored."""
    limit = int(settings.MAX_UPLOAD_BYTES)
    if isinstance(upload, tuple):
        name, data = upload
        size: int | None = len(data)
    else:
        name, data, size = upload.name or "", None, upload.size
    name = Path(name or "upload").name[:200]
    if size is not None and size > limit:
        raise UploadTooLarge(
            f"the file {name} is larger than {limit} bytes (settings.MAX_UPLOAD_BYTES)",
            field=field,
        )
    if data is None:
        upload.seek(0)
        data = upload.read()
        if len(data) > limit:
            raise UploadTooLarge(
                f"the file {name} is larger than {limit} bytes (settings.MAX_UPLOAD_BYTES)",
                field=field,
            )
    return name, data
