"""The one exception type of the render package."""


class RenderError(ValueError):
    """Rendering failed: bad input, a missing or failing tool, or a tool that timed out.

    The message says which and is meant to be shown to the person who asked for the render.
    """
