#!/usr/bin/env bash
# Whole-process benchmarks (issue 7; budgets in design.md "Budgets"; results in
# BENCHMARKS.md). Times release `stackgen` with hyperfine: render of every stack in
# stacks/, render over 1/4/16/64/256 shards, lint of 1,000 stack files in one call, and
# a floor process that prints the same bytes as the 64-shard render (`cat` of its
# golden); peak RSS of the 64-shard render with /usr/bin/time. Prints median, min, max
# and the ratio of each median to the floor's. Nothing here fails on a slow figure.
#
#   scripts/bench.sh            # RUNS=50 WARMUP=5 by default; OUT=DIR keeps the JSON
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-50}
WARMUP=${WARMUP:-5}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
OUT=${OUT:-$(mktemp -d -t stackgen-bench.XXXXXX)}
mkdir -p "$OUT"

need() { # need COMMAND DEBIAN_PACKAGE
    command -v "$1" >/dev/null 2>&1 && return
    echo "installing $2" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get install -y "$2" >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y "$2" >/dev/null; }
}
need hyperfine hyperfine
[ -x /usr/bin/time ] || need /usr/bin/time time

cargo build --release --quiet --bin stackgen
BIN=$CARGO_TARGET_DIR/release/stackgen
GEN=$OUT/stacks
mkdir -p "$GEN/lint"

# Shard sweep: sharded-64.toml with another `shards`.
for n in 1 4 16 64 256; do
    sed "s/^shards = 64\$/shards = $n/" stacks/sharded-64.toml >"$GEN/shards-$n.toml"
    grep -q "^shards = $n\$" "$GEN/shards-$n.toml"
done

# 1,000 lint inputs: the examples in turn, each with its own stack name and retention.
i=0
examples=(stacks/*.toml)
while [ $i -lt 1000 ]; do
    f=${examples[$((i % ${#examples[@]}))]}
    awk -v i=$i '
        !named && /^name = "/ { sub(/"$/, "-" i "\""); named = 1 }
        /^retention = "[0-9]+d"$/ { match($0, /[0-9]+/); $0 = "retention = \"" (substr($0, RSTART, RLENGTH) + i % 7) "d\"" }
        { print }' "$f" >"$GEN/lint/stack-$i.toml"
    i=$((i + 1))
done

hf() { # hf NAME COMMAND
    hyperfine -N -i --style none --warmup "$WARMUP" --runs "$RUNS" --export-json "$OUT/$1.json" -n "$1" "$2" >/dev/null
}

hf floor "cat golden/sharded-64.yaml"
for f in stacks/*.toml; do
    n=$(basename "$f" .toml)
    hf "render-$n" "$BIN render $f"
done
for n in 1 4 16 64 256; do
    hf "shards-$n" "$BIN render $GEN/shards-$n.toml"
done
RUNS=$(( RUNS > 20 ? 20 : RUNS )) hf lint-1000 "$BIN lint $(ls "$GEN"/lint/*.toml | tr '\n' ' ')"

rss=()
for _ in 1 2 3 4 5; do
    rss+=("$(/usr/bin/time -f %M "$BIN" render stacks/sharded-64.toml 2>&1 >/dev/null | tail -n 1)")
done

python3 - "$OUT" "${rss[@]}" <<'PY'
import json, os, statistics, sys
out, rss = sys.argv[1], [int(x) for x in sys.argv[2:]]
rows = []
for name in sorted(os.listdir(out)):
    if name.endswith(".json"):
        r = json.load(open(os.path.join(out, name)))["results"][0]
        rows.append((name[:-5], r["median"], r["min"], r["max"]))
floor = dict((n, m) for n, m, _, _ in rows)["floor"]
order = lambda r: (r[0] != "floor", r[0].startswith("shards"), int(r[0].split("-")[1]) if r[0].startswith("shards") else 0, r[0])
print(f"{'benchmark':<28} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'x floor':>8}")
for n, med, lo, hi in sorted(rows, key=order):
    print(f"{n:<28} {med*1e3:>10.2f} {lo*1e3:>8.2f} {hi*1e3:>8.2f} {med/floor:>8.1f}")
print(f"peak RSS, render sharded-64: median {statistics.median(rss)/1024:.1f} MB (max {max(rss)/1024:.1f} MB over {len(rss)} runs)")
print(f"JSON: {out}")
PY
