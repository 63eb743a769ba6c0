"""Helpers for tests that use the generate page."""

from __future__ import annotations

from django.urls import reverse


def post_generate_form(client, checkpoint, **fields):
    """The generate page's form as a browser posts it, with these fields changed."""
    data = {
        "checkpoint": checkpoint.pk,
        "temperature": "1.0",
        "max_length": "400",
        "top_k": "0",
        "count": "1",
        **{k: str(v) for k, v in fields.items()},
    }
    return client.post(reverse("generate"), data)
