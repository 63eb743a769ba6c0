"""HTTP plumbing both apps' pages and APIs share: the client's address and file answers."""

from __future__ import annotations

import ipaddress
import re

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse

from .storage import FileSlices


def client_ip(request: HttpRequest) -> str | None:
    """The visitor's address, for the hourly limit. Behind N trusted reverse proxies
    (settings.TRUSTED_PROXY_COUNT, 0 by default) it is the N-th address from the right of
    X-Forwarded-For: the one the nearest trusted proxy saw; anything left of it is whatever
    the client chose to send."""
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            try:
                return str(ipaddress.ip_address(forwarded[-proxies]))
            except ValueError:
                pass
    return request.META.get("REMOTE_ADDR") or None


RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """The (first, last) byte a Range header asks for in a file of `size` bytes, clipped to
    it; None when the whole file is asked for (no header, or one this site does not serve
    in parts: several ranges, another unit); False when nothing of the file is in it (416).
    "bytes=100-" is from byte 100 to the end, "bytes=-500" the last 500 bytes."""
    match = RANGE.match(header.strip())
    if not match or not (match.group(1) or match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if first:
        start, end = int(first), int(last) if last else size - 1
    else:  # the last N bytes
        start, end = max(size - int(last), 0), size - 1
    end = min(end, size - 1)
    if start >= size or start > end:
        return False
    return start, end


def _unsatisfiable(size: int) -> HttpResponse:
    response = HttpResponse(status=416)
    response["Content-Range"] = f"bytes */{size}"
    response["Accept-Ranges"] = "bytes"
    return response


def _file_headers(
    response: HttpResponse, *, length: int, filename: str, attachment: bool
) -> HttpResponse:
    response["Accept-Ranges"] = "bytes"
    response["Content-Length"] = str(length)
    disposition = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


def _head_response(
    size: int,
    wanted: tuple[int, int] | None,
    *,
    content_type: str,
    filename: str,
    attachment: bool,
) -> HttpResponse:
    """What GET would answer (status, size, range), without the body."""
    start, end = (0, size - 1) if wanted is None else wanted
    response = HttpResponse(b"", status=200 if wanted is None else 206, content_type=content_type)
    if wanted is not None:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return _file_headers(response, length=end - start + 1, filename=filename, attachment=attachment)


def bytes_response(
    request: HttpRequest,
    data: bytes,
    *,
    content_type: str,
    filename: str,
    attachment: bool,
) -> HttpResponse:
    """The bytes, or the byte range the browser asked for (audio seeking needs ranges); to
    HEAD, the same headers without the bytes."""
    size = len(data)
    wanted = byte_range(request.headers.get("Range", ""), size)
    if wanted is False:
        return _unsatisfiable(size)
    if request.method == "HEAD":
        return _head_response(
            size, wanted, content_type=content_type, filename=filename, attachment=attachment
        )
    if wanted is None:
        response = HttpResponse(data, content_type=content_type)
    else:
        start, end = wanted
        response = HttpResponse(data[start : end + 1], status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return _file_headers(
        response, length=len(response.content), filename=filename, attachment=attachment
    )


def stored_file_response(
    request: HttpRequest,
    name: str,
    *,
    content_type: str,
    filename: str,
    attachment: bool,
) -> HttpResponse:
    """The file stored under `name` (a name a row or a hash made, never the request), or the
    byte range the browser asked for, streamed from the storage: only the bytes sent are
    read, a slice at a time (common.storage.FileSlices), so a player seeking in a long
    recording costs what it plays. 206 with Content-Range for a range, 416 for a range past
    the end; a missing file or a name outside the storage is a 404. To HEAD, the same headers
    and no bytes read at all."""
    try:
        stored = FileSlices(name)
    except (FileNotFoundError, IsADirectoryError, SuspiciousOperation):
        raise Http404("This file is not available.") from None
    size = stored.size
    wanted = byte_range(request.headers.get("Range", ""), size)
    if wanted is False:
        stored.close()
        return _unsatisfiable(size)
    if request.method == "HEAD":
        stored.close()
        return _head_response(
            size, wanted, content_type=content_type, filename=filename, attachment=attachment
        )
    start, end = (0, size - 1) if wanted is None else wanted
    length = end - start + 1
    response = StreamingHttpResponse(
        stored.slice(start, length),
        status=200 if wanted is None else 206,
        content_type=content_type,
    )
    if wanted is not None:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return _file_headers(response, length=length, filename=filename, attachment=attachment)
