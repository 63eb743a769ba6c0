"""Who may do what through the API: public reads, staff writes."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


def is_staff(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_staff)


class IsStaffOrReadOnly(BasePermission):
    message = "Only staff may do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.method in SAFE_METHODS or is_staff(request.user)


class IsStaff(BasePermission):
    message = "Only staff may do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return is_staff(request.user)
