"""`{% load evaluation_tags %}`: what the piece evaluation partial needs, from `piece` alone."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.simple_tag
def piece_evaluation_view(piece) -> dict[str, Any]:
    """`{% piece_evaluation_view piece as ev %}`: the piece's stored evaluation, its verdict in
    words, the calibration sentence and the side-by-side passage (see presenters.py)."""
    from ..presenters import piece_evaluation_view as build

    return build(piece)


@register.filter
def percent(value, digits: int = 0) -> str:
    """0.437 → "44%"; None → "—"."""
    if value is None or value == "":
        return "—"
    try:
        return f"{float(value) * 100:.{int(digits)}f}%"
    except (TypeError, ValueError):
        return "—"


@register.filter
def number(value, digits: int = 2) -> str:
    """A float with `digits` decimals; None → "—"."""
    if value is None or value == "":
        return "—"
    try:
        return f"{float(value):.{int(digits)}f}"
    except (TypeError, ValueError):
        return "—"
