#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL cluster (see test/pg.sh): AION_PG_URL names
# it and AION_PG_REQUIRED=1 makes the tests that need it fail rather than skip. The
# cluster is removed when the command ends, whatever its outcome.
#
#   test/with_pg.sh make bench
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/aion_pg.XXXXXX")
trap '"$here/pg.sh" stop "$dir"' EXIT
AION_PG_URL=$("$here/pg.sh" start "$dir")
export AION_PG_URL AION_PG_REQUIRED=1
"$@"
