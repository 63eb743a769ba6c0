"""Plumbing both apps share, and nothing else: no models, no services.

- `http`: the client's address (behind trusted proxies) and ranged file answers;
- `api`: the REST API's error format, permissions, throttles, pagination, schema helpers
  and the base every API view shares;
- `charts`: chart geometry for server-drawn SVG charts;
- `tasks`: how a service queues a Celery task, by its registered name, after commit.
"""
