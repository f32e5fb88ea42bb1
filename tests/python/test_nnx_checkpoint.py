"""The Python reader (python/nnx_checkpoint.py) against a checkpoint nnx wrote: every value
bitwise equal, kinds, metrics and JSON items as saved; every flipped byte of every file refused;
its pure-numpy XXH3-64 equal to the C library's on every length class.

Usage: test_nnx_checkpoint.py FIXTURE_PROGRAM WORK_DIR"""
import ctypes
import os
import random
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
import nnx_checkpoint as nc  # noqa: E402

fixture, work = sys.argv[1], sys.argv[2]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work + "/run-raw")
subprocess.run([fixture, work + "/run"], check=True)

# 1. XXH3-64: the numpy implementation equals libxxhash (the library nnx links) on every length class.
lib = ctypes.CDLL("libxxhash.so.0")
lib.XXH3_64bits.restype = ctypes.c_uint64
lib.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
rng = random.Random(1)
lengths = list(range(0, 260)) + [1023, 1024, 1025, 2048, 2049, 5000, 65537]
for n in lengths:
    data = bytes(rng.getrandbits(8) for _ in range(n))
    assert nc._xxh3_64_python(data) == lib.XXH3_64bits(data, n), "XXH3-64 differs at length %d" % n
nc.xxh3_64 = nc._xxh3_64_python  # the rest of the test runs on the pure implementation

# 2. Values, kinds, metrics, JSON: as nnx saved them.
assert nc.list_steps(work + "/run") == [7]
step = nc.load_step(work + "/run")
assert step.step == 7 and step.metrics == {"val_accuracy": 0.75}, (step.step, step.metrics)
assert step.json == {"note": {"epoch": 3}}, step.json
model = step.arrays["model"]
raw = sorted(os.listdir(work + "/run-raw"))
assert len(raw) == len(model) > 8, (raw, sorted(model))
for name in raw:
    path = name[:-len(".bin")].replace(".", "/")
    expected = np.fromfile(os.path.join(work, "run-raw", name), dtype=model[path].dtype)
    assert model[path].tobytes() == expected.tobytes(), "bitwise difference in " + path
assert step.kinds["model"]["layers/0/kernel"] == "Param" and step.kinds["model"]["norms/0/mean"] == "BatchStat"
f = step.arrays["formula"]
i = lambda shape: np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
assert f["f32/0"].dtype == np.float32 and np.array_equal(f["f32/0"], (i((2, 3)) * 0.5 - 3).astype(np.float32))
assert f["f64/1"].dtype == np.float64 and np.array_equal(f["f64/1"], i((4,)) * 0.5 - 3)
assert f["i32"].dtype == np.int32 and np.array_equal(f["i32"], (i((3, 1)) * 7 - 20).astype(np.int32))
assert f["i64"].dtype == np.int64 and f["i64"].shape == () and int(f["i64"]) == -20
assert f["u32"].dtype == np.uint32 and np.array_equal(f["u32"], (i((5,)) * 3).astype(np.uint32))
assert f["empty"].shape == (0, 3)
assert step.kinds["formula"] == {"f32/0": "Param", "f64/1": "BatchStat", "i32": "Param", "i64": "OptState",
                                 "u32": "RngCount", "empty": "Param"}, step.kinds["formula"]
assert sorted(nc.load(work + "/run", item="model")) == sorted(model)

# 3. Every flipped bit of every file of the step is refused.
step_dir = work + "/run/7"
refused = 0
for name in sorted(os.listdir(step_dir)):
    path = os.path.join(step_dir, name)
    original = open(path, "rb").read()
    positions = range(len(original)) if len(original) < 4096 else sorted(random.Random(2).sample(range(len(original)), 1500))
    for at in positions:
        damaged = bytearray(original)
        damaged[at] ^= 0x01
        open(path, "wb").write(bytes(damaged))
        try:
            nc.load_step(work + "/run")
        except nc.CheckpointError:
            refused += 1
        else:
            raise AssertionError("a flipped bit at byte %d of %s was accepted" % (at, name))
    open(path, "wb").write(original)
nc.load_step(work + "/run")  # sound again
print("python reader: %d values files bitwise equal; %d flipped bits refused; XXH3 equal on %d lengths"
      % (len(raw), refused, len(lengths)))
