"""Signing in and out."""

from __future__ import annotations

import logging

from django.contrib.auth import views as auth_views

log = logging.getLogger(__name__)


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True
    next_page = "gallery"


class LogoutView(auth_views.LogoutView):
    next_page = "gallery"
