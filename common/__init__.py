"""Plumbing both apps share, and nothing else: no models, no services.

- `errors`: `ServiceError`, the refusal services raise with the field it is about (no
  Django: services import it too);
- `forms`: a service's refusal put on a form, next to its field;
- `http`: the client's address (behind trusted proxies) and ranged file answers;
- `api`: the REST API's error format, permissions, throttles, pagination, schema helpers
  and the base every API view shares;
- `charts`: chart geometry for server-drawn SVG charts;
- `tasks`: how a service queues a Celery task, by its registered name, after commit.
"""
