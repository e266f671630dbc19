#!/usr/bin/env bash
# The scale family's table (benches/README.md, "The hosting model at
# scale"): every member of scenarios/scale-1e*.toml, one policy pair per
# run, the runs one after another, timed whole (start-up, trace generation,
# the run, the CSVs and plots) by /usr/bin/time -v on a release build.
#
#   cargo build --release
#   bash benches/scale-table.sh [1e2 1e3 1e4 1e5]   # default: all four
#
# Prints a Markdown table: hosts, pair, events (summary.csv), wall time,
# user time, ns per event (wall / events), peak RSS and site migrations.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./target/release/slivers
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1e2 1e3 1e4 1e5)
pairs=("room-for-growth follow-broker" "room-for-growth energy-aware" "migrating follow-broker" "migrating energy-aware")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "| hosts | pair | events | wall | user | ns per event | peak RSS | site migrations |"
echo "|---|---|---|---|---|---|---|---|"
for size in "${sizes[@]}"; do
  for pair in "${pairs[@]}"; do
    set -- $pair
    scenario="$work/scale-$size-$1-$2.toml"
    cp "scenarios/scale-$size.toml" "$scenario"
    printf '\n[[pairs]]\nprovisioning = "%s"\nplacement = "%s"\n' "$1" "$2" >>"$scenario"
    /usr/bin/time -v "$bin" run "$scenario" --out "$work/out" -q 2>"$work/time" >/dev/null
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$work/time")
    user=$(awk -F': ' '/User time/ { print $2 }' "$work/time")
    rss=$(awk -F': ' '/Maximum resident/ { printf "%.0f MB", $2 / 1024 }' "$work/time")
    # Columns of summary.csv by name: events, migrations.
    read -r events migrations < <(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } NR == 2 { print $c["events"], $c["migrations"] }' "$work/out/summary.csv")
    ns=$(awk -v w="$wall" -v e="$events" 'BEGIN { printf "%.0f", w * 1e9 / e }')
    short=$(echo "$1/$2" | sed 's/room-for-growth/rfg/; s/migrating/mig/; s/follow-broker/fb/; s/energy-aware/ea/')
    echo "| 10^${size#1e} | $short | $events | ${wall} s | ${user} s | $ns | $rss | $migrations |"
  done
done
