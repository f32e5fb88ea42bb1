#!/usr/bin/python3
"""Proof against the real clients: numpy and PyTorch read what nnx writes and write what nnx reads.

    torch_interop.py DRIVER WORKDIR

(a) nnx saves a State of every dtype and odd keys; this script parses the safetensors file by hand
    (struct + json + numpy: Debian packages no `safetensors` module; it is used too when present),
    compares every tensor bitwise with the bytes nnx listed, and rebuilds the header by the reference
    writer's rules to check that the bytes are the ones Python's safetensors would write.
(b) torch builds nn.Sequential(Linear, BatchNorm1d, ReLU, Dropout, ..., Linear) with a fixed seed,
    moves its BatchNorm statistics by training-mode passes, writes its state_dict as safetensors;
    nnx imports it through the PyTorch convention; in eval mode nnx's logits equal torch's.
(c) nnx exports its MLP; torch loads it with load_state_dict(strict=True) and reproduces nnx's logits.
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np
import torch

DRIVER, WORK = sys.argv[1], sys.argv[2]
os.makedirs(WORK, exist_ok=True)
TOLERANCE = 1e-5  # relative: max |nnx - torch| / max |torch|

NP_OF = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64, "U32": np.uint32}
ST_OF_NNX = {"float32": "F32", "float64": "F64", "int32": "I32", "int64": "I64", "uint32": "U32"}
# The reference's Dtype enum order (the writer sorts by it, largest first, then by name).
ORDER = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "I16", "U16", "F16",
         "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64"]


def read_safetensors(path):
    """The format by hand: (header dict, metadata dict, {name: numpy array}), every check of the spec."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert 8 + n <= len(blob), "header longer than the file"
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    data = blob[8 + n:]
    arrays, at = {}, 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        begin, end = info["data_offsets"]
        assert begin == at, f"{name}: gap or overlap"
        dtype = np.dtype(NP_OF[info["dtype"]]).newbyteorder("<")
        assert (end - begin) == dtype.itemsize * int(np.prod(info["shape"], dtype=np.int64)), name
        arrays[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(info["shape"])
        at = end
    assert at == len(data), "bytes after the last tensor"
    return blob[8:8 + n], header, metadata, arrays


def safetensors_bytes(arrays, metadata=None):
    """What the reference writer writes for {name: numpy array} (dtype order, name; spaces to 8)."""
    st_of = {np.dtype(v): k for k, v in NP_OF.items()}
    items = sorted(arrays.items(), key=lambda kv: (-ORDER.index(st_of[kv[1].dtype]), kv[0].encode("utf-8")))
    header, offset, chunks = {}, 0, []
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    for name, a in items:
        raw = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": st_of[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        chunks.append(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write(path, arrays, metadata=None):
    with open(path, "wb") as f:
        f.write(safetensors_bytes(arrays, metadata))


def run(*args):
    subprocess.run([DRIVER, *args], check=True)


def relative_error(got, want):
    return float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))) / np.max(np.abs(want)))


# (a) numpy reads nnx's file; the bytes are the reference writer's.
values, listing = os.path.join(WORK, "values.safetensors"), os.path.join(WORK, "values.txt")
run("values", values, listing)
header_text, header, metadata, arrays = read_safetensors(values)
with open(listing, encoding="utf-8") as f:
    listed = [line.split(" ") for line in f.read().splitlines()]
assert len(listed) == len(arrays), (len(listed), sorted(arrays))
for name, dtype, shape, hexbytes in listed:
    a = arrays[name]
    assert header[name]["dtype"] == ST_OF_NNX[dtype], (name, header[name]["dtype"], dtype)
    assert list(a.shape) == ([] if shape == "-" else [int(d) for d in shape.split(",")]), (name, a.shape, shape)
    assert a.tobytes() == (b"" if hexbytes == "-" else bytes.fromhex(hexbytes)), f"{name}: values differ"
assert metadata["nnx.format"] == "nnx-safetensors 1" and metadata["written_by"] == "interop_driver", metadata
assert json.loads(metadata["nnx.path.heads.7.w"]) == ["heads", "7", "w"], metadata
assert json.loads(metadata["nnx.path.dotted.key"]) == ["dotted.key"], metadata
assert metadata["nnx.kind.layers.0.kernel"] == "Param", metadata
with open(values, "rb") as f:
    assert f.read() == safetensors_bytes(arrays, metadata), "the bytes differ from the reference writer's"
print(f"(a) numpy read {len(arrays)} tensors of nnx's file bitwise; the file's bytes are the reference writer's")
try:
    from safetensors.numpy import load_file  # not packaged by Debian 12; used when installed
    for name, a in load_file(values).items():
        assert a.tobytes() == arrays[name].tobytes(), name
    print("(a) the safetensors module reads it too")
except ImportError:
    print("(a) the Python safetensors module is not installed: parsed by hand only")

# (b) torch -> nnx.
torch.manual_seed(0)
layers = []
for a, b in [(6, 16), (16, 8)]:
    layers += [torch.nn.Linear(a, b), torch.nn.BatchNorm1d(b), torch.nn.ReLU(), torch.nn.Dropout(0.1)]
model = torch.nn.Sequential(*layers, torch.nn.Linear(8, 3))
model.train()
with torch.no_grad():
    for _ in range(5):  # moves the running statistics away from 0 / 1
        model(torch.randn(64, 6) * 2 + 0.5)
    for m in model:
        if isinstance(m, torch.nn.BatchNorm1d):
            m.weight.uniform_(0.5, 2.0)
            m.bias.uniform_(-1.0, 1.0)
model.eval()
x = torch.randn(32, 6)
with torch.no_grad():
    torch_logits = model(x).numpy()
state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
assert "1.num_batches_tracked" in state
weights, inputs, logits = (os.path.join(WORK, n) for n in ("torch.safetensors", "x.safetensors", "nnx_logits.safetensors"))
write(weights, state, {"format": "pt"})
write(inputs, {"x": x.numpy()})
run("import", weights, inputs, logits)
nnx_logits = read_safetensors(logits)[3]["logits"]
err = relative_error(nnx_logits, torch_logits)
print(f"(b) torch -> nnx: {len(state)} tensors; logits {nnx_logits.shape}, max relative difference {err:.3g}")
assert err <= TOLERANCE, err

# (c) nnx -> torch.
exported, nnx_logits_path = os.path.join(WORK, "nnx_export.safetensors"), os.path.join(WORK, "nnx_export_logits.safetensors")
run("export", exported, inputs, nnx_logits_path)
_, header, metadata, arrays = read_safetensors(exported)
assert metadata == {"format": "pt"}, metadata
reloaded = torch.nn.Sequential(*[type(m)(*(m.in_features, m.out_features) if isinstance(m, torch.nn.Linear) else
                                          (m.num_features,) if isinstance(m, torch.nn.BatchNorm1d) else
                                          (0.1,) if isinstance(m, torch.nn.Dropout) else ()) for m in model])
reloaded.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in arrays.items()}, strict=True)
reloaded.eval()
with torch.no_grad():
    torch_logits = reloaded(x).numpy()
nnx_logits = read_safetensors(nnx_logits_path)[3]["logits"]
err = relative_error(torch_logits, nnx_logits)
print(f"(c) nnx -> torch: load_state_dict(strict=True) took {len(arrays)} tensors; max relative difference {err:.3g}")
assert err <= TOLERANCE, err
print("ok")
