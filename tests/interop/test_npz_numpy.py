"""npz against the real client, Debian's numpy: files numpy wrote (savez, savez_compressed,
big-endian, scalars, empty arrays) go through nnx and back; numpy loads nnx's file as is and finds
every array bitwise equal; what nnx cannot hold is refused with a message naming it.

Usage: test_npz_numpy.py NPZ_ROUNDTRIP WORK_DIR"""
import os
import shutil
import subprocess
import sys

import numpy as np

tool, work = sys.argv[1], sys.argv[2]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
rng = np.random.default_rng(0)
arrays = {
    "layers.0.kernel": rng.standard_normal((3, 5)).astype(np.float32),
    "layers.0.bias": rng.standard_normal(5).astype(np.float32),
    "f64": rng.standard_normal((2, 2, 2)),
    "i32": rng.integers(-2**31, 2**31, size=7, dtype=np.int32),
    "i64": rng.integers(-2**62, 2**62, size=(2, 3), dtype=np.int64),
    "u32": rng.integers(0, 2**32, size=4, dtype=np.uint32),
    "scalar": np.array(3.5, dtype=np.float64),
    "empty": np.zeros((0, 4), dtype=np.float32),
    "big_endian": rng.standard_normal(6).astype(">f4"),
}
for writer in (np.savez, np.savez_compressed):
    src, out = os.path.join(work, writer.__name__ + ".npz"), os.path.join(work, writer.__name__ + ".nnx.npz")
    writer(src, **arrays)
    r = subprocess.run([tool, src, out], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    back = np.load(out)
    assert sorted(back.files) == sorted(arrays), (back.files, sorted(arrays))
    for name, a in arrays.items():
        b = back[name]
        assert b.shape == a.shape and b.dtype == a.dtype.newbyteorder("<"), (name, b.shape, b.dtype)
        assert b.tobytes() == a.astype(a.dtype.newbyteorder("<")).tobytes(), "bitwise difference in " + name

# What nnx cannot hold is refused, naming the entry and the remedy.
for bad, says in [({"h": np.zeros(2, np.float16)}, "dtype '<f2' is not one nnx holds"),
                  ({"f": np.asfortranarray(np.zeros((2, 3), np.float32))}, "Fortran-ordered"),
                  ({"o": np.array([1, "a"], dtype=object)}, "not one nnx holds")]:
    src = os.path.join(work, "bad.npz")
    np.savez(src, **bad) if "o" not in bad else np.savez(src, allow_pickle=True, **bad)
    r = subprocess.run([tool, src, os.path.join(work, "bad.out.npz")], capture_output=True, text=True)
    assert r.returncode == 1 and says in r.stdout and ".npy" in r.stdout, r.stdout + r.stderr
print("numpy %s: savez and savez_compressed read by nnx, nnx's npz read by numpy, %d arrays bitwise; 3 refusals"
      % (np.__version__, len(arrays)))
