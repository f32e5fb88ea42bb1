#!/usr/bin/env bash
# The resume story of lesson 07: train without interruption; train again, SIGKILL it mid-way,
# resume it; show that both runs end with bitwise identical parameters (the same nnx-ckpt digest).
#
#   examples/resume_story.sh BIN_DIR WORK_DIR [--kill-after-saves N] [--async] [--threads T]
#                            [--reference-threads T] [--steps S] [--save-every E] [--signal KILL|TERM|INT]
#                            [--damage-latest]
#
# --damage-latest: after the interruption, flip one byte of the latest step's model.nnxa; the resumed
# run must fall back to the step before it, set the damaged one aside, and still end bitwise equal.
# Exit status 0 when the digests match, 1 when they differ or the story could not be told.
set -euo pipefail
bin=$1
work=$2
shift 2
kill_after=4 steps=3000 save_every=200 threads=1 reference_threads=1 async=() signal=KILL damage=0
while (($#)); do
  case $1 in
    --kill-after-saves) kill_after=$2; shift 2 ;;
    --async) async=(--async); shift ;;
    --threads) threads=$2; shift 2 ;;
    --reference-threads) reference_threads=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --save-every) save_every=$2; shift 2 ;;
    --signal) signal=$2; shift 2 ;;
    --damage-latest) damage=1; shift ;;
    *) echo "resume_story.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
rm -rf "$work"
mkdir -p "$work"
run() { "$bin/07_train_resume" --steps "$steps" --save-every "$save_every" "$@"; }

echo "== 1. an uninterrupted run: $steps steps, saving every $save_every ($reference_threads thread(s))"
run --dir "$work/uninterrupted" --threads "$reference_threads" >"$work/uninterrupted.log" 2>&1
tail -n 1 "$work/uninterrupted.log"
reference=$("$bin/nnx-ckpt" digest "$work/uninterrupted" --step "$steps" --item model)
echo "   digest of its final model: $reference"

echo "== 2. the same run (${async[*]:-sync saves}, $threads thread(s)), killed with SIG$signal after its save number $kill_after"
# Started directly (not through a shell function) so that $! is the training process itself. The log
# exists before the child starts: the background job opens it only when it gets scheduled, and
# counting saves in a file not yet there must read as 0, not end the wait (a race seen under ASan).
: >"$work/interrupted.log"
"$bin/07_train_resume" --steps "$steps" --save-every "$save_every" --dir "$work/interrupted" --threads "$threads" \
  "${async[@]}" >"$work/interrupted.log" 2>&1 &
child=$!
saves() { grep -cE '^sav(ed|ing) step' "$work/interrupted.log" 2>/dev/null || true; }
while kill -0 "$child" 2>/dev/null && (($(saves) + 0 < kill_after)); do
  sleep 0.005
done
kill "-$signal" "$child" 2>/dev/null || true
status=0
wait "$child" 2>/dev/null || status=$?
if [[ $signal == KILL ]]; then
  if ((status != 137)); then
    echo "   the run ended (status $status) before it could be killed; use a smaller --kill-after-saves" >&2
    exit 1
  fi
  echo "   killed after: $(grep -E '^sav(ed|ing) step' "$work/interrupted.log" | tail -n 1)"
else  # SIGTERM / SIGINT: the run saves where it is and exits cleanly
  if ((status != 0)) || ! grep -q '^interrupted' "$work/interrupted.log"; then
    echo "   expected a clean exit after SIG$signal, got status $status:" >&2
    tail -n 3 "$work/interrupted.log" >&2
    exit 1
  fi
  echo "   $(grep '^interrupted' "$work/interrupted.log")"
fi
echo "   committed steps on disk:"
"$bin/nnx-ckpt" list "$work/interrupted" | sed 's/^/     /'

if ((damage)); then
  latest=$(ls "$work/interrupted" | grep -E '^[0-9]+$' | sort -n | tail -n 1)
  file="$work/interrupted/$latest/model.nnxa"
  offset=$(($(stat -c %s "$file") / 2))
  byte=$(od -An -tu1 -j "$offset" -N1 "$file" | tr -d ' ')
  printf "$(printf '\\%03o' $((byte ^ 0xff)))" | dd of="$file" bs=1 seek="$offset" conv=notrunc status=none
  echo "   damaged: byte $offset of step $latest's model.nnxa flipped"
fi

echo "== 3. the same command again: it resumes from the latest committed step"
run --dir "$work/interrupted" --threads "$threads" "${async[@]}" >"$work/resumed.log" 2>&1
if ((damage)); then
  if ! grep -q "set aside damaged step $latest" "$work/resumed.log" || ! grep -q "step $latest .* is damaged, skipped" "$work/resumed.log"; then
    echo "   expected the resumed run to skip and set aside step $latest:" >&2
    head -n 5 "$work/resumed.log" >&2
    exit 1
  fi
  grep -E "skipped|set aside" "$work/resumed.log" | cut -c1-160 | sed 's/^/   /'
fi
head -n 1 "$work/resumed.log" | sed 's/^/   /'
tail -n 1 "$work/resumed.log" | sed 's/^/   /'
resumed=$("$bin/nnx-ckpt" digest "$work/interrupted" --step "$steps" --item model)
echo "   digest of its final model: $resumed"

if [[ $resumed == "$reference" ]]; then
  echo "== the interrupted-and-resumed run ends bitwise identical to the uninterrupted one"
else
  echo "== MISMATCH: the resumed run differs from the uninterrupted one" >&2
  "$bin/nnx-ckpt" diff "$work/uninterrupted" "$steps" "$steps" >&2 || true
  exit 1
fi
