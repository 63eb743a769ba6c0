"""Pieces' pagination: also says which sort was used."""

from __future__ import annotations

from common.api.pagination import ApiCursorPagination
from generator import filters, selectors


class PieceCursorPagination(ApiCursorPagination):
    """Pieces: also says which sort was used (rating and novelty fall back to newest)."""

    numeric_orderings = (filters.SORT_SCORE,)

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["sort"] = getattr(self.request, "piece_sort", "newest")
        return response

    def get_paginated_response_schema(self, schema):
        result = super().get_paginated_response_schema(schema)
        result["properties"]["sort"] = {
            "type": "string",
            "enum": list(selectors.SORTS),
            "description": "The sort used: rating and novelty fall back to newest until the "
            "evaluation app stores those scores.",
        }
        result["required"] = [*result.get("required", []), "sort"]
        return result
