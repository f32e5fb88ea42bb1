#!/usr/bin/env bash
# The distributed checks, each under mpirun at several world sizes (tests/distributed/CMakeLists.txt).
#
#   checks.sh invariance|resume|fail-save|fail-nan MPIRUN DRIVER NNX_CKPT WORK
#
#  invariance  exact and gather reductions: the same digest at 1, 2, 3 and 4 processes (3: uneven
#              shards 3+3+2); fast runs at 1 and 2 (its bits may differ; it is reported, not required)
#  resume      2 processes save every 5 steps and stop after step 17 (as if killed: steps 16-17 lost);
#              resumed at 1 and at 3 processes, both end with the uninterrupted 2-process digest;
#              nnx-ckpt verifies the directory unchanged
#  fail-save   rank 0's save throws at step 2: every rank catches the error; step 2 is not listed
#  fail-nan    a NaN in the last shard (last rank only): every rank catches the exact reduction's error
#  fail-async  rank 0's background write of step 3 fails: every rank learns it at save 4; step 3 unlisted
#  fail-resume a rank built with another width resumes a saved run: every rank catches the mismatch
#  fail-local  the loss function throws on the last rank only: every rank catches it, none hangs
set -euo pipefail
check=$1 mpirun=$2 driver=$3 ckpt=$4 work=$5
export OMP_NUM_THREADS=1
rm -rf "$work"
mkdir -p "$work"
mpi() { local np=$1; shift; "$mpirun" --allow-run-as-root --oversubscribe -np "$np" "$driver" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# The digest every rank printed; all ranks must agree.
digest_of() {
  local log=$1 np=$2 d
  d=$(grep -E '^rank [0-9]+ digest' "$log" | awk '{print $4}' | sort -u)
  [[ $(grep -cE '^rank [0-9]+ digest' "$log") == "$np" ]] || fail "expected $np digests in $log: $(cat "$log")"
  [[ $(wc -l <<<"$d") == 1 ]] || fail "the ranks of one run disagree: $d"
  echo "$d"
}

case $check in
  invariance)
    for reduction in exact gather; do
      ref=""
      for np in 1 2 3 4; do
        mpi "$np" train --steps 20 --reduction "$reduction" >"$work/$reduction-$np.log" 2>&1 || fail "$(cat "$work/$reduction-$np.log")"
        d=$(digest_of "$work/$reduction-$np.log" "$np")
        echo "$reduction at $np process(es): $d"
        [[ -z $ref || $d == "$ref" ]] || fail "$reduction: $np processes give $d, 1 process gave $ref"
        ref=$d
      done
    done
    grep -q 'rank 2 of 3 holds shards \[5, 8)' "$work/exact-3.log" || fail "expected uneven shards at 3 processes"
    [[ $(grep -c 'dropout draws 40, norms/0/mean\[0\] != 0' "$work/exact-4.log") == 4 ]] ||
      fail "expected every rank's Dropout stream at 40 draws (2 per step) and a moved BatchNorm mean: $(grep dropout "$work/exact-4.log")"
    grep -q 'rank 0 of 3 holds shards \[0, 2)' "$work/exact-3.log" || fail "expected uneven shards at 3 processes"
    # Training happened: a run of 1 step ends elsewhere.
    mpi 1 train --steps 1 >"$work/one-step.log" 2>&1
    [[ $(digest_of "$work/one-step.log" 1) != "$ref" ]] || fail "1 step and 20 steps end with the same digest"
    for np in 1 2; do
      mpi "$np" train --steps 20 --reduction fast >"$work/fast-$np.log" 2>&1 || fail "$(cat "$work/fast-$np.log")"
      echo "fast at $np process(es): $(digest_of "$work/fast-$np.log" "$np")"
    done
    ;;
  resume)
    mpi 2 train --steps 30 --dir "$work/uninterrupted" >"$work/uninterrupted.log" 2>&1 || fail "$(cat "$work/uninterrupted.log")"
    ref=$(digest_of "$work/uninterrupted.log" 2)
    mpi 2 train --steps 30 --dir "$work/interrupted" --stop-after 17 --async >"$work/interrupted.log" 2>&1 || fail "$(cat "$work/interrupted.log")"
    [[ $("$ckpt" list "$work/interrupted" | grep -cE '^ *(10|15)\b') == 2 ]] || fail "expected steps 10 and 15: $("$ckpt" list "$work/interrupted")"
    "$ckpt" verify "$work/interrupted" >/dev/null || fail "nnx-ckpt verify refuses the coordinated directory"
    for np in 1 3; do
      cp -r "$work/interrupted" "$work/resume-$np"
      mpi "$np" train --steps 30 --dir "$work/resume-$np" >"$work/resume-$np.log" 2>&1 || fail "$(cat "$work/resume-$np.log")"
      [[ $(grep -c 'resumed from step 15' "$work/resume-$np.log") == "$np" ]] || fail "expected every rank to resume from 15: $(cat "$work/resume-$np.log")"
      d=$(digest_of "$work/resume-$np.log" "$np")
      echo "saved at 2, resumed at $np: $d (uninterrupted at 2: $ref)"
      [[ $d == "$ref" ]] || fail "resumed at $np processes: $d, uninterrupted: $ref"
      [[ $("$ckpt" digest "$work/resume-$np" --step 30 --item model) == $("$ckpt" digest "$work/uninterrupted" --step 30 --item model) ]] ||
        fail "nnx-ckpt digest of step 30 differs"
    done
    ;;
  fail-save)
    mpi 3 fail-save --dir "$work/dir" --steps 5 --save-every 1 >"$work/log" 2>&1 || fail "$(cat "$work/log")"
    cat "$work/log"
    [[ $(grep -c 'caught at step 2: CoordinatedRun::save failed on rank 0 .*injected failure.* | latest_step 1$' "$work/log") == 3 ]] ||
      fail "expected all 3 ranks to catch rank 0's save error, with step 1 the latest"
    "$ckpt" list "$work/dir" | grep -qE '^ *2\b' && fail "step 2 is listed although its save failed"
    "$ckpt" list "$work/dir" | grep -qE '^ *1\b' || fail "step 1 is not listed"
    ;;
  fail-nan)
    mpi 3 fail-nan >"$work/log" 2>&1 || fail "$(cat "$work/log")"
    cat "$work/log"
    [[ $(grep -c "caught: DataParallel: a gradient (or statistic) is NaN or infinite" "$work/log") == 3 ]] ||
      fail "expected all 3 ranks to catch the NaN error"
    grep -q "shard 7 on this rank" "$work/log" || fail "expected the last rank to name shard 7"
    ;;
  fail-async)
    mpi 3 fail-async --dir "$work/dir" --steps 6 --save-every 1 >"$work/log" 2>&1 || fail "$(cat "$work/log")"
    cat "$work/log"
    grep -q '^saving step 3' "$work/log" || fail "expected step 3's async save to start (pending)"
    [[ $(grep -c 'caught at step 4: CoordinatedRun::save failed on rank 0 .*/3. already exists.* | latest_step 2$' "$work/log") == 3 ]] ||
      fail "expected all 3 ranks to learn at the next save (4) that rank 0's background write of step 3 failed"
    "$ckpt" list "$work/dir" | grep -qE '^ *3\b' && fail "step 3 is listed although its write failed"
    ;;
  fail-resume)
    mpi 2 train --steps 5 --dir "$work/dir" >"$work/train.log" 2>&1 || fail "$(cat "$work/train.log")"
    mpi 3 fail-resume --dir "$work/dir" >"$work/log" 2>&1 || fail "$(cat "$work/log")"
    cat "$work/log"
    [[ $(grep -c "caught: CoordinatedRun::resume_or_start failed on rank 2 .*'model' restored on rank 0 does not fit this rank's object: rank 0 has 'layers/0/bias Param float32\[16\]' where this rank has 'layers/0/bias Param float32\[17\]'" "$work/log") == 3 ]] ||
      fail "expected all 3 ranks to catch rank 2's mismatch, naming the first differing variable"
    ;;
  fail-local)
    for reduction in exact gather fast; do
      mpi 3 fail-local --reduction "$reduction" >"$work/$reduction.log" 2>&1 || fail "$(cat "$work/$reduction.log")"
      cat "$work/$reduction.log"
      [[ $(grep -c "caught: DataParallel::train_step failed on rank 2 .*injected failure in the loss function" "$work/$reduction.log") == 3 ]] ||
        fail "$reduction: expected all 3 ranks to catch rank 2's error"
    done
    ;;
  *) fail "unknown check '$check'" ;;
esac
echo "ok: $check"
