"""A throw-away PostgreSQL cluster for a test session, started by ``.ci/postgres.sh``.

CI sources that script before pytest (``PATMATCH_TEST_DATABASE_URL`` is then set and used
as is). On a developer machine without the variable, the session runs the script itself
when the PostgreSQL binaries are installed, so the PostgreSQL half of the parametrised
tests runs there too; the script's own trap stops the cluster when we close its stdin
(also when pytest dies: the pipe closes with it).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "postgres.sh"
ENV = "PATMATCH_TEST_DATABASE_URL"


def binaries_installed() -> bool:
    return any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))


@contextmanager
def server_url() -> Iterator[str | None]:
    """The URL of a PostgreSQL database the tests may create schemas in; None when there is
    neither a configured server nor binaries to start one."""
    if os.environ.get(ENV):
        yield os.environ[ENV]
        return
    if not binaries_installed():
        yield None
        return
    env = {k: v for k, v in os.environ.items() if k not in (ENV, "PATMATCH_PG_DIR")}
    proc = subprocess.Popen(["bash", str(SCRIPT)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline().strip()
        if not line.startswith(ENV + "="):
            proc.stdin.close()
            raise RuntimeError(f"{SCRIPT} did not start PostgreSQL: {line!r} "
                               f"{proc.stderr.read()[-2000:]}")
        yield line.split("=", 1)[1]
    finally:
        if proc.stdin and not proc.stdin.closed:
            proc.stdin.close()
        proc.wait(timeout=60)


def with_schema(url: str, schema: str) -> str:
    """The same server and database, with ``schema`` first on the search path (one
    isolated namespace per test; ``DROP SCHEMA ... CASCADE`` removes it)."""
    from sqlalchemy.engine import make_url

    return make_url(url).update_query_dict(
        {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def new_schema_name() -> str:
    return "t_" + uuid.uuid4().hex[:16]
