#!/usr/bin/env bash
# Measure `manage.py import_customers` on PostgreSQL: N generated customers (JSON Lines) into a
# fresh, migrated database; then the same file again (every row unchanged).
#
#   bench/import/run.sh [N]            # N defaults to 1000000
#
# Environment: PG_BASE (default postgres://postgres@127.0.0.1:5432), BENCH_DB (default
# scc_import_bench: DROPPED and re-created), WORK (default /tmp/scc_import_bench: the generated
# file, reused when present). Needs psql and GNU time (/usr/bin/time -v); see measure.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000000}
PG_BASE=${PG_BASE:-postgres://postgres@127.0.0.1:5432}
BENCH_DB=${BENCH_DB:-scc_import_bench}
WORK=${WORK:-/tmp/scc_import_bench}
PY=${PYTHON:-.venv/bin/python}
mkdir -p "$WORK"
export DATABASE_URL="$PG_BASE/$BENCH_DB" DATA_DIR="$WORK" DJANGO_SETTINGS_MODULE=config.settings.local

psql "$PG_BASE/postgres" -qc "DROP DATABASE IF EXISTS $BENCH_DB" -c "CREATE DATABASE $BENCH_DB"
$PY manage.py migrate --noinput -v 0
CHANNEL=$($PY manage.py create_channel --name bench --channel-type web --catalog 1 |
  $PY -c 'import json, sys; print(json.load(sys.stdin)["id"])')
FILE="$WORK/customers-$N.jsonl"
[ -s "$FILE" ] || $PY bench/import/make_customers.py "$N" -o "$FILE"

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "file: $FILE ($(du -h "$FILE" | cut -f1), $N rows)"
for run in fresh again; do
  $PY bench/import/measure.py "$BENCH_DB" "$run" -- manage.py import_customers "$CHANNEL" "$FILE"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
