"""Form plumbing both apps' pages share: a service's refusal shown next to its field."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms

from common.errors import ServiceError, sentence


def add_service_error(
    form: forms.BaseForm,
    exc: ServiceError,
    *,
    rename: Mapping[str, str | None] | None = None,
) -> None:
    """Put a service's refusal on the form: each message next to the field it is about.

    `rename` maps a service keyword to the form's field where the two differ (None: the
    form as a whole); a keyword the form has no field for goes to the form as a whole."""
    for field, message in exc.items():
        name = (rename or {}).get(field, field) if field else None
        form.add_error(name if name in form.fields else None, sentence(message))
