"""Plumbing the API views of both apps share: errors, permissions, throttles, pagination, schema."""
