"""HTTP plumbing both apps' pages and APIs share: the client's address and file answers."""

from __future__ import annotations

import ipaddress
import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse


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


def bytes_response(
    request: HttpRequest,
    data: bytes,
    *,
    content_type: str,
    filename: str,
    attachment: bool,
) -> HttpResponse:
    """The bytes, or the byte range the browser asked for (audio seeking needs ranges)."""
    size = len(data)
    status, body, headers = 200, data, {}
    match = RANGE.match(request.headers.get("Range", "").strip())
    if match and (match.group(1) or match.group(2)):
        first, last = match.group(1), match.group(2)
        if first:
            start, end = int(first), int(last) if last else size - 1
        else:  # the last N bytes
            start, end = max(size - int(last), 0), size - 1
        end = min(end, size - 1)
        if start >= size or start > end:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        status, body = 206, data[start : end + 1]
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    response = HttpResponse(body, status=status, content_type=content_type)
    for name, value in headers.items():
        response[name] = value
    response["Accept-Ranges"] = "bytes"
    response["Content-Length"] = str(len(body))
    disposition = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response
