"""Cursor pagination in the queryset's own order, with hand-made cursors refused as 404s."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.pagination import CursorPagination

from common.api.schema import blank_ok


class ApiCursorPagination(CursorPagination):
    """Cursor pagination in the queryset's own order (its `order_by` columns), 24 a page;
    `per_page` asks for 1..100. A cursor that does not decode is a 404 (DRF's)."""

    page_size = 24
    page_size_query_param = "per_page"
    max_page_size = 100
    ordering = ("-created_at", "-pk")
    # Ordering names that are computed numbers (annotations), not model fields.
    numeric_orderings: tuple[str, ...] = ()

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request):
        value = request.query_params.get(self.page_size_query_param)
        if value in (None, ""):
            return self.page_size
        if not (value.isdigit() and 1 <= int(value) <= self.max_page_size):
            raise exceptions.ValidationError(
                {
                    self.page_size_query_param: [
                        f"Give a whole number from 1 to {self.max_page_size}."
                    ]
                }
            )
        return int(value)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = blank_ok(
                    {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
                )
                parameter["description"] = (
                    f"Results per page, 1..{self.max_page_size} (default {self.page_size})."
                )
            elif parameter["name"] == self.cursor_query_param:
                parameter["description"] = "The `next` or `previous` link's cursor."
        return parameters

    def get_ordering(self, request, queryset, view):
        order = tuple(queryset.query.order_by)
        if order and all(isinstance(o, str) for o in order):
            return order
        return super().get_ordering(request, queryset, view)

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            # A hand-made cursor must not reach the database as a malformed value.
            name = self.ordering[0].lstrip("-")
            try:
                if name in self.numeric_orderings:
                    float(cursor.position)
                else:
                    field = self._model._meta.get_field("id" if name == "pk" else name)
                    value = field.to_python(cursor.position)
                    if isinstance(value, int) and not -(2**63) <= value < 2**63:
                        raise ValueError("out of range")
            except Exception:  # ValueError, ValidationError, LookupError: not our cursor
                raise exceptions.NotFound(self.invalid_cursor_message) from None
        return cursor
