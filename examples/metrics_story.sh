#!/usr/bin/env bash
# Lesson 07's metrics log, read by the real clients: train to step 300, add the entries a run
# killed after its save at 300 would have logged, resume to 500, then
#  * pandas (Debian's python3-pandas) reads metrics.jsonl as is: one row per line, the training
#    loss of every 20th step exactly once (the killed run's entries after 300 were dropped), the
#    validation metrics at each save, one resume at 300;
#  * nnx-ckpt plot draws it: a well-formed SVG with the curves, saves, the resume and the best step.
# Usage: metrics_story.sh BIN_DIR WORK_DIR
set -euo pipefail
bin=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
dir=$work/run
"$bin/07_train_resume" --dir "$dir" --steps 300 --save-every 100 >/dev/null
echo '{"step": 320, "event": "train", "time_unix_ms": 1, "train_loss": 99}' >>"$dir/metrics.jsonl"
printf '{"step": 340, "event": "tr' >>"$dir/metrics.jsonl"   # cut off by the kill
"$bin/07_train_resume" --dir "$dir" --steps 500 --save-every 100 >/dev/null
"$bin/nnx-ckpt" plot "$dir" -o "$work/curves.svg"
/usr/bin/python3 - "$dir/metrics.jsonl" "$work/curves.svg" <<'PY'
import sys, xml.etree.ElementTree as ET
import pandas as pd
log, svg = sys.argv[1], sys.argv[2]
df = pd.read_json(log, lines=True)
print(df.groupby("event").size().to_string())
for column in ["step", "event", "time_unix_ms", "train_loss", "val_accuracy", "val_loss"]:
    assert column in df.columns, f"missing column {column}: {list(df.columns)}"
train = df[df.event == "train"]
assert list(train.step) == list(range(20, 501, 20)), f"train steps: {list(train.step)}"
assert train.train_loss.max() < 99, "an entry of the killed run survived the resume"
saves = df[df.event == "save"]
assert list(saves.step) == [100, 200, 300, 400, 500], f"save steps: {list(saves.step)}"
assert saves.val_accuracy.notna().all() and train.val_accuracy.isna().all()
assert list(df[df.event == "resume"].step) == [300]
assert list(df[df.event == "start"].step) == [0]
root = ET.parse(svg).getroot()   # well-formed XML
ns = {"s": "http://www.w3.org/2000/svg"}
series = [p.find("s:title", ns).text for p in root.iter("{http://www.w3.org/2000/svg}polyline")]
assert sorted(series) == ["train_loss", "val_accuracy", "val_loss"], series
kinds = [e.get("class") for e in root.iter() if e.get("class") in ("save", "resume", "best")]
assert kinds.count("save") == 2 * 5 and kinds.count("resume") == 2 and kinds.count("best") == 2, kinds
print("pandas read", len(df), "rows; the SVG has", len(series), "curves, 5 saves, 1 resume and the best step")
PY
