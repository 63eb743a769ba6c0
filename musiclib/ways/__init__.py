"""The ways: one module per model family, all behind the interface in `base`."""

from .registry import get_way, way_names

__all__ = ["get_way", "way_names"]
