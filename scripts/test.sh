#!/usr/bin/env bash
# Runs the whole suite on SQLite, then again on PostgreSQL, with Redis for rate limits and jobs.
# Without PostgreSQL or Redis it runs what it can and says loudly what it skipped;
# with CI=true a missing service fails the run instead.
set -u
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PG_URL=${TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
REDIS=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
CI=${CI:-false}
status=0
skipped=()

if $PY - "$REDIS" <<'PY' 2>/dev/null; then
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2).ping()
PY
  export TEST_REDIS_URL=$REDIS
else
  unset TEST_REDIS_URL
  skipped+=("Redis at $REDIS is unreachable: the Redis tests (rate limits on Redis, rq worker) are SKIPPED")
fi

pg_ok=0
if $PY - "$PG_URL" <<'PY' 2>/dev/null; then
import sys, psycopg
psycopg.connect(sys.argv[1].replace("+psycopg", ""), connect_timeout=3).close()
PY
  pg_ok=1
else
  skipped+=("PostgreSQL at $PG_URL is unreachable: the PostgreSQL pass is SKIPPED")
fi

# The S3-compatible server (moto's, from .venv-s3: tests/s3_server.py), one for both passes.
s3_pid=""
if s3_out=$($PY - <<'PY' 2>&1
import sys
from tests import s3_server
proc, endpoint = s3_server.start({"S3_UPLOAD_PART_MIN_SIZE": str(1024 * 1024)})
print(proc.pid, endpoint)
PY
); then
  read -r s3_pid s3_endpoint <<<"$(echo "$s3_out" | tail -1)"
  export TEST_S3_ENDPOINT=$s3_endpoint
  trap '[ -n "$s3_pid" ] && kill "$s3_pid" 2>/dev/null' EXIT
else
  skipped+=("the S3-compatible server (moto_server in .venv-s3) did not start: the S3 tests are SKIPPED ($(echo "$s3_out" | tail -1))")
fi

if [ "$CI" = "true" ] && [ ${#skipped[@]} -gt 0 ]; then
  for s in "${skipped[@]}"; do echo "ERROR: $s" >&2; done
  echo "ERROR: CI=true needs PostgreSQL, Redis and the S3-compatible server" >&2
  exit 1
fi

# The real-browser tests drive a whole served app; they run once, on PostgreSQL (the production database)
# when it is there, else on SQLite.
sqlite_only=()
if [ $pg_ok = 1 ]; then
  sqlite_only=(--ignore=tests/browser)
fi

echo "=== pass 1: SQLite${sqlite_only:+ (the browser tests run in pass 2)} ==="
TEST_DATABASE_URL= $PY -m pytest -q -p no:cacheprovider --durations=10 "${sqlite_only[@]}" "$@" || status=1

if [ $pg_ok = 1 ]; then
  echo "=== pass 2: PostgreSQL ==="
  TEST_DATABASE_URL=$PG_URL $PY -m pytest -q -p no:cacheprovider --durations=10 "$@" || status=1
fi

if [ ${#skipped[@]} -gt 0 ]; then
  echo
  echo "################################################################"
  for s in "${skipped[@]}"; do echo "# WARNING: $s"; done
  echo "################################################################"
fi
exit $status
