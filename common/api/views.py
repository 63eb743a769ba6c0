"""The base every API view shares (ApiMixin) and the `202 Accepted` answer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.errors import PayloadTooLarge, api_exception_handler
from common.api.pagination import ApiCursorPagination
from common.api.permissions import IsStaffOrReadOnly
from common.api.schema import ApiAutoSchema
from common.api.throttles import ApiAnonRateThrottle, ApiUserRateThrottle


class ApiMixin:
    """What every API view shares: token then session authentication (so an anonymous
    write is a 401 naming the Token scheme), public reads, request throttles, the error
    format, django-filter and cursor pagination."""

    schema = ApiAutoSchema()
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsStaffOrReadOnly]
    throttle_classes = [ApiAnonRateThrottle, ApiUserRateThrottle]
    filter_backends = [DjangoFilterBackend]
    pagination_class = ApiCursorPagination
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_exception_handler(self):
        return api_exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # An unsupported method is a 405 whoever asks (DRF would check permissions first).
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise exceptions.MethodNotAllowed(request.method)
        content_type = request.META.get("CONTENT_TYPE", "")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if (
            limit is not None
            and not content_type.startswith("multipart/")
            and content_length(request) > limit
        ):
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        super().initial(request, *args, **kwargs)

    def throttled(self, request: Request, wait: float | None) -> None:
        raise exceptions.Throttled(wait=wait, detail=getattr(request, "throttle_message", None))

    def get_object(self):
        # `<pk>` matches any segment: a non-number or a huge number is simply not there.
        pk = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        if pk is not None and not (str(pk).isdigit() and 0 < int(pk) < 2**63):
            raise exceptions.NotFound("There is nothing with that id here.")
        return super().get_object()


def content_length(request: Request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def created(data: dict[str, Any], *, status_code: int = status.HTTP_202_ACCEPTED) -> Response:
    return Response(data, status=status_code, headers={"Location": data["url"]})


def validated(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    if not isinstance(request.data, dict):  # a JSON list or string is not an object
        raise exceptions.ValidationError(
            {"non_field_errors": ["The request body must be a JSON object (or a form)."]}
        )
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
