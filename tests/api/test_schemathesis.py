"""Property-based run of the app's own OpenAPI document: no 5xx, responses conform.

Checks: no server error, documented status codes, content types, headers and response
bodies that match the schema, and schema-violating requests rejected. Not run:
"schema-valid request accepted" - some input is valid by schema yet refused by meaning
(an unknown chain id from the editable taxonomy, a centre key without chains, a file type
we cannot read) and answers 400 by design.

Bounded: a few examples per operation (SCHEMATHESIS_EXAMPLES, default 12) so the whole
run stays well under a minute on 2 cores. The app lives in its own temporary data home
(built at import: schemathesis parametrizes from a schema object at collection time).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings as hsettings
from schemathesis import checks

from patmatch.settings import Settings

from api.main import create_app
from tests.api.conftest import make_engine

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12"))

_home = Path(tempfile.mkdtemp(prefix="patmatch-fuzz-"))
atexit.register(shutil.rmtree, _home, True)
_settings = Settings(home=_home)
_engine = make_engine(_settings)
_app = create_app(_settings, engine=_engine, reload_interval=0)
_key, _ = _app.state.keys.create("fuzz", "operator")
_engine.refresh()  # the ASGI transport does not run the lifespan

CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_headers_conformance,
          checks.response_schema_conformance, checks.negative_data_rejection,
          checks.use_after_free, checks.ensure_resource_availability,
          checks.missing_required_header, checks.unsupported_method,
          checks.allow_header_conformance]

schema = schemathesis.openapi.from_asgi("/openapi.json", _app)


@schema.parametrize()
@hsettings(max_examples=EXAMPLES, deadline=None, derandomize=True,
           suppress_health_check=list(HealthCheck))
def test_openapi_conformance(case):
    case.call_and_validate(headers={"X-API-Key": _key}, checks=CHECKS)
