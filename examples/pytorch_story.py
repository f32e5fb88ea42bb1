#!/usr/bin/python3
"""Lesson 10's story with the real PyTorch (Debian's python3-torch): prototype in PyTorch, fine-tune
in C++, come back.

    pytorch_story.py BIN_DIR WORK_DIR

1. PyTorch trains nn.Sequential(Linear, BatchNorm1d, ReLU, Dropout, ..., Linear) on two spirals for
   a few epochs (fixed seed) and writes its state_dict as safetensors (by hand: Debian packages no
   `safetensors` module; the format is 8 bytes of header length, a JSON header, the raw tensors).
2. lesson 10 imports it, fine-tunes with checkpoints, writes the weights back, and nnx's predictions
   on 64 validation rows (an npz).
3. PyTorch loads the fine-tuned weights (strict=True) and, in eval mode, reproduces nnx's logits on
   the same rows within 1e-5 (relative).
"""
import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import torch

BIN, WORK = sys.argv[1], sys.argv[2]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
DTYPES = {np.dtype("<f4"): "F32", np.dtype("<f8"): "F64", np.dtype("<i8"): "I64", np.dtype("<i4"): "I32"}
NUMPY = {v: k for k, v in DTYPES.items()}


def save_safetensors(path, tensors):
    header, chunks, at = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"))
        header[name] = {"dtype": DTYPES[a.dtype], "shape": list(a.shape), "data_offsets": [at, at + a.nbytes]}
        chunks.append(a.tobytes())
        at += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def load_safetensors(path):
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__", None)
    data = blob[8 + n:]
    return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dtype=NUMPY[v["dtype"]]).reshape(v["shape"]).copy()
            for k, v in header.items()}


# 1. Prototype in PyTorch.
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.BatchNorm1d(32), torch.nn.ReLU(), torch.nn.Dropout(0.1),
                            torch.nn.Linear(32, 32), torch.nn.BatchNorm1d(32), torch.nn.ReLU(), torch.nn.Dropout(0.1),
                            torch.nn.Linear(32, 2))
t = torch.rand(1024) * 3 * np.pi
sign = torch.randint(0, 2, (1024,)) * 2 - 1
x = torch.stack([sign * t * torch.cos(t), sign * t * torch.sin(t)], 1) / 10 + 0.05 * torch.randn(1024, 2)
y = (sign > 0).long()
optimizer = torch.optim.Adam(model.parameters(), 3e-3)
for epoch in range(5):
    for i in range(0, 1024, 64):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x[i:i + 64]), y[i:i + 64]).backward()
        optimizer.step()
save_safetensors(os.path.join(WORK, "torch.safetensors"), {k: v.numpy() for k, v in model.state_dict().items()})

# 2. Fine-tune in C++.
r = subprocess.run([os.path.join(BIN, "10_from_pytorch"), "--dir", os.path.join(WORK, "ft"), "--weights",
                    os.path.join(WORK, "torch.safetensors"), "--out", os.path.join(WORK, "finetuned.safetensors"),
                    "--logits", os.path.join(WORK, "logits.npz"), "--steps", "200"], capture_output=True, text=True)
print(r.stdout)
assert r.returncode == 0, r.stdout + r.stderr

# 3. Back in PyTorch: the fine-tuned weights, nnx's predictions.
weights = load_safetensors(os.path.join(WORK, "finetuned.safetensors"))
model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
model.eval()
nnx = np.load(os.path.join(WORK, "logits.npz"))
with torch.no_grad():
    logits = model(torch.from_numpy(nnx["x"])).numpy()
error = float(np.max(np.abs(logits - nnx["logits"])) / np.max(np.abs(logits)))
print("torch reproduces nnx's fine-tuned logits: max relative difference %.2e" % error)
assert error < 1e-5, error
