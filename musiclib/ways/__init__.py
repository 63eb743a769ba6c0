"""The ways: one module per model family, all behind the interface in `base`."""

from .base import Capabilities, Way
from .registry import (
    DEFAULT_WAY,
    all_ways,
    get_way,
    register,
    unregister,
    way_choices,
    way_for_source,
    way_names,
    ways_taking,
)

__all__ = [
    "DEFAULT_WAY",
    "Capabilities",
    "Way",
    "all_ways",
    "get_way",
    "register",
    "unregister",
    "way_choices",
    "way_for_source",
    "way_names",
    "ways_taking",
]
