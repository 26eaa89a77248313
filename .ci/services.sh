#!/usr/bin/env bash
# Sourced by .ci/run: starts the services the tests need and stops them on exit.
# (PostgreSQL: a throw-away cluster, see .ci/postgres.sh once it exists.)
if [[ -f .ci/postgres.sh ]]; then
  # shellcheck source=/dev/null
  source .ci/postgres.sh
fi
