"""`{% load music_tags %}`: how the pages write musical values."""

from __future__ import annotations

from django import template

from musiclib.ways.abc_text import key_in_words, meter_in_words

register = template.Library()


@register.filter
def key_words(value: str | None) -> str:
    """A stored key ("Em", "DDor", "B♭ major") as a musician says it ("E minor", "D Dorian");
    empty stays empty so `|default` still applies."""
    return key_in_words(value) if value else ""


@register.filter
def meter_words(value: str | None) -> str:
    """A stored meter as a musician reads it ("C" → "4/4 (common time)"); empty stays empty
    so `|default` still applies."""
    return meter_in_words(value) if value else ""
