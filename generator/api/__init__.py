"""The REST API (`/api/v1/`): everything the site does, for programs. One module per area.

- `corpora`: corpora, their tunes and imports; `runs`: training runs and checkpoints;
  `pieces`: pieces, generation requests and jobs; `root`: the entry points;
- `serializers`: what programs read and send; `throttles`, `pagination`: generator's own;
- `urls`: the routes, mounted at `/api/v1/` by musicsite.urls.

Reads are public; writes are for staff, except generation, which anyone may ask for within
an hourly allowance of pieces (`services.generation_allowance`, shared with the generate
page). Long work (training, imports, generation) answers `202 Accepted` with a `Location`
to poll. The plumbing every API view shares (error format, permissions, throttles,
pagination, schema helpers) lives in `common.api`.
"""
