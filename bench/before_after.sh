#!/usr/bin/env bash
# Two pocket builds on the same files, alternating per model: prompt
# processing at two lengths and generation, `pocket bench --json` medians.
# For a change's before/after figures (bench/RESULTS.md); each bench run
# holds /tmp/bench.lock so helpers sharing the machine take turns.
#   usage: bench/before_after.sh BEFORE_BIN AFTER_BIN MODEL...
#   env: THREADS (2), PP ("128 512"), TG (64), REPS (3), LOCK (the flock
#   prefix; LOCK=" " runs without it)
set -euo pipefail
before=$1; after=$2; shift 2
T=${THREADS:-2}; PP=${PP:-"128 512"}; TG=${TG:-64}; R=${REPS:-3}
field() { echo "$1" | sed "s/.*\"$2\": \([0-9.]*\).*/\1/"; }
echo "| model | build | test | median t/s | runs |"
echo "|---|---|---|---:|---|"
for m in "$@"; do
  for p in $PP; do
    for which in before after; do
      bin=$before; [ "$which" == after ] && bin=$after
      n=0; [ "$p" == "${PP##* }" ] && n=$TG   # generation with the last prompt length
      j=$(${LOCK:-flock /tmp/bench.lock} nice -n 5 "$bin" bench -m "$m" -t "$T" -p "$p" -n "$n" -r "$R" --json)
      runs() { echo "$j" | sed "s/.*\"$1\": \[\([^]]*\)\].*/\1/"; }
      if echo "$j" | grep -q pp_median; then
        echo "| $(basename "$m") | $which | pp$p | $(field "$j" pp_median) | $(runs pp_runs) |"
        [ "$n" -gt 0 ] && echo "| $(basename "$m") | $which | tg$n | $(field "$j" tg_median) | $(runs tg_runs) |"
      else # a build without medians: mean +/- sd
        echo "| $(basename "$m") | $which | pp$p | $(field "$j" pp_tps) (mean, sd $(field "$j" pp_sd)) | |"
        [ "$n" -gt 0 ] && echo "| $(basename "$m") | $which | tg$n | $(field "$j" tg_tps) (mean, sd $(field "$j" tg_sd)) | |"
      fi
    done
  done
done
