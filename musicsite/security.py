"""Response headers that the Django middleware does not set: Content-Security-Policy and
Permissions-Policy.

The policy allows scripts from this site only (no inline script, no eval): every page loads
static/js/site.js and nothing else, and front-end libraries are served locally (no CDN).
Inline *styles* are allowed because verovio writes a `<style>` element into every engraved
score SVG and the progress meters set their width in a style attribute; a style cannot run
script. Swagger UI (drf-spectacular) starts itself with a small inline script, so its one
page gets `'unsafe-inline'` for scripts; it shows the API schema, no user content.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def _policy(directives: dict[str, str]) -> str:
    return "; ".join(f"{name} {value}".strip() for name, value in directives.items())


BASE_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "media-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
CONTENT_SECURITY_POLICY = _policy(BASE_DIRECTIVES)
# Swagger UI only (see the module docstring); worker-src for its blob: web worker.
RELAXED_CONTENT_SECURITY_POLICY = _policy(
    {**BASE_DIRECTIVES, "script-src": "'self' 'unsafe-inline'", "worker-src": "'self' blob:"}
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class SecurityHeadersMiddleware:
    """Adds CSP and Permissions-Policy to every response that does not set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        relaxed = any(request.path.startswith(p) for p in settings.CSP_RELAXED_PATHS)
        response.headers.setdefault(
            "Content-Security-Policy",
            RELAXED_CONTENT_SECURITY_POLICY if relaxed else CONTENT_SECURITY_POLICY,
        )
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
