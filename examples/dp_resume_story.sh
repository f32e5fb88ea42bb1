#!/usr/bin/env bash
# Lesson 11's story: a data-parallel run at 2 processes, one rank SIGKILLed at a random moment
# (possibly during a save), mpirun ends the job, the same command at another number of processes
# resumes from the latest committed step, and the run ends bitwise identical (the same nnx-ckpt
# digest) to an uninterrupted 2-process run.
#
#   examples/dp_resume_story.sh BIN_DIR WORK_DIR [--np 2] [--resume-np 3] [--kill-rank R|random]
#                               [--kill-after-saves N] [--steps S] [--save-every E] [--async]
#
# mpirun is $MPIRUN or the one on PATH; run as root it gets --allow-run-as-root, and always
# --oversubscribe (more ranks than cores). Exit status 0 when the digests match.
set -euo pipefail
bin=$1
work=$2
shift 2
np=2 resume_np=3 kill_rank=random kill_after=3 steps=600 save_every=50 async=()
while (($#)); do
  case $1 in
    --np) np=$2; shift 2 ;;
    --resume-np) resume_np=$2; shift 2 ;;
    --kill-rank) kill_rank=$2; shift 2 ;;
    --kill-after-saves) kill_after=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --save-every) save_every=$2; shift 2 ;;
    --async) async=(--async); shift ;;
    *) echo "dp_resume_story.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
export OMP_NUM_THREADS=1
mpirun=(${MPIRUN:-mpirun} --oversubscribe)
(($(id -u) == 0)) && mpirun+=(--allow-run-as-root)
[[ $kill_rank == random ]] && kill_rank=$((RANDOM % np))
rm -rf "$work"
mkdir -p "$work"
train() { "${mpirun[@]}" -np "$1" "$bin/11_data_parallel" --steps "$steps" --save-every "$save_every" --dir "$2" "${async[@]}"; }

echo "== 1. an uninterrupted run at $np processes: $steps steps, saving every $save_every"
train "$np" "$work/uninterrupted" >"$work/uninterrupted.log" 2>&1 || { cat "$work/uninterrupted.log" >&2; exit 1; }
grep '^finished' "$work/uninterrupted.log" | sed 's/^/   /'
reference=$("$bin/nnx-ckpt" digest "$work/uninterrupted" --step "$steps" --item model)
echo "   digest of its final model: $reference"

echo "== 2. the same run (${async[*]:-sync saves}), rank $kill_rank SIGKILLed at a random moment after save $kill_after"
: >"$work/interrupted.log"
train "$np" "$work/interrupted" >"$work/interrupted.log" 2>&1 &
job=$!
saves() { grep -cE '^sav(ed|ing) step' "$work/interrupted.log" 2>/dev/null || true; }
while kill -0 "$job" 2>/dev/null && (($(saves) + 0 < kill_after)); do sleep 0.005; done
sleep "0.0$((RANDOM % 60))"  # a random moment: between saves, or in the middle of one
pid=$(awk -v r="$kill_rank" '$1 == "rank" && $2 == r && $3 == "pid" {print $4}' "$work/interrupted.log")
[[ -n $pid ]] || { echo "   no pid of rank $kill_rank in the log" >&2; exit 1; }
kill -KILL "$pid" 2>/dev/null || true
status=0
wait "$job" 2>/dev/null || status=$?
if ((status == 0)); then
  echo "   the run finished (status 0) before rank $kill_rank was killed; use a smaller --kill-after-saves" >&2
  exit 1
fi
echo "   killed rank $kill_rank (pid $pid) after: $(grep -E '^sav(ed|ing) step' "$work/interrupted.log" | tail -n 1)"
echo "   mpirun ended the job (status $status): $(grep -m1 -oE 'exited on signal [0-9]+[^.]*' "$work/interrupted.log" || echo 'job aborted')"
echo "   committed steps on disk (nnx-ckpt list, unchanged tool):"
"$bin/nnx-ckpt" list "$work/interrupted" | sed 's/^/     /'
"$bin/nnx-ckpt" verify "$work/interrupted" >/dev/null || { echo "   nnx-ckpt verify found damage" >&2; exit 1; }
if ls "$work/interrupted" | grep -q 'nnx-tmp'; then echo "   (a half-written step was left unlisted; the next run removes it)"; fi

echo "== 3. the same command at $resume_np processes: it resumes from the latest committed step"
train "$resume_np" "$work/interrupted" >"$work/resumed.log" 2>&1 || { cat "$work/resumed.log" >&2; exit 1; }
grep -E '^(resumed|starting|finished)' "$work/resumed.log" | sed 's/^/   /'
resumed=$("$bin/nnx-ckpt" digest "$work/interrupted" --step "$steps" --item model)
echo "   digest of its final model: $resumed"

if [[ $resumed == "$reference" ]]; then
  echo "== killed at $np processes, resumed at $resume_np: bitwise identical to the uninterrupted $np-process run"
else
  echo "== MISMATCH: the resumed run differs from the uninterrupted one" >&2
  exit 1
fi
