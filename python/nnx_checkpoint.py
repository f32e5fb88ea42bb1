"""Read nnx checkpoints from Python: numpy only, no nnx build needed.

    import nnx_checkpoint
    nnx_checkpoint.list_steps("run")                       # [200, 400]
    step = nnx_checkpoint.load_step("run")                 # the latest step, every checksum verified
    step.step, step.metrics                                # 400, {'val_accuracy': 0.99}
    step.arrays["model"]["layers/0/kernel"]                # numpy.ndarray, float32 (2, 64)
    step.kinds["model"]["layers/0/kernel"]                 # 'Param'
    step.json["progress"]                                  # the JSON item's value, as Python objects
    nnx_checkpoint.load("run", item="model")               # just {path: ndarray} of one item

Reads the format of docs/checkpoint-format.md (step format 1 and 2, array format 1) and verifies
what nnx verifies: the _COMMIT manifest and its own checksum, the size and XXH3 of every file, the
array file's header, footer and index checksum, and each array's XXH3-64. Any mismatch raises
CheckpointError naming the file and the problem. XXH3 comes from the `xxhash` module when it is
installed (Debian: python3-xxhash), else from the implementation below (numpy, ~50 MB/s).
"""
import json
import os
import re
import struct

import numpy as np

__all__ = ["CheckpointError", "Step", "list_steps", "load_step", "load", "xxh3_64"]


class CheckpointError(ValueError):
    """A checkpoint that is missing, damaged, or of a format this reader does not know."""


# --- XXH3-64 (seed 0), after the xxHash specification (doc/xxhash_spec.md) -------------------

_M = (1 << 64) - 1
_P32_1, _P32_2, _P32_3 = 0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D
_P64_1, _P64_2, _P64_3 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9
_P64_4, _P64_5 = 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5
_PMX1, _PMX2 = 0x165667919E3779F9, 0x9FB21C651E98DF25
_SECRET = bytes.fromhex(
    "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671fcb79e64eccc0e578825ad07dccff7221"
    "b8084674f743248ee03590e6813a264c3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8"
    "a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364eac5ac8334d3ebc3c581a0fffa1363eb"
    "170ddd51b7f0da49d3165526 29d4689e2b16be587d47a1fc8ff8b8d17ad031ce45cb3a8f95160428afd7fbcabb4b407e".replace(" ", ""))


def _u64(b, i):
    return int.from_bytes(b[i:i + 8], "little")


def _u32(b, i):
    return int.from_bytes(b[i:i + 4], "little")


def _avalanche(x):
    x ^= x >> 37
    x = (x * _PMX1) & _M
    return x ^ (x >> 32)


def _avalanche_xxh64(x):
    x ^= x >> 33
    x = (x * _P64_2) & _M
    x ^= x >> 29
    x = (x * _P64_3) & _M
    return x ^ (x >> 32)


def _mul_fold(a, b):
    p = a * b
    return (p & _M) ^ (p >> 64)


def _mix16(data, i, s):
    return _mul_fold(_u64(data, i) ^ _u64(_SECRET, s), _u64(data, i + 8) ^ _u64(_SECRET, s + 8))


def _xxh3_small(data):
    n = len(data)
    if n == 0:
        return _avalanche_xxh64(_u64(_SECRET, 56) ^ _u64(_SECRET, 64))
    if n <= 3:
        combined = data[-1] | (n << 8) | (data[0] << 16) | (data[n >> 1] << 24)
        return _avalanche_xxh64((_u32(_SECRET, 0) ^ _u32(_SECRET, 4)) ^ combined)
    if n <= 8:
        value = (_u64(_SECRET, 8) ^ _u64(_SECRET, 16)) ^ (_u32(data, n - 4) | (_u32(data, 0) << 32))
        rotl = lambda v, r: ((v << r) | (v >> (64 - r))) & _M
        value ^= rotl(value, 49) ^ rotl(value, 24)
        value = (value * _PMX2) & _M
        value ^= (value >> 35) + n
        value = (value * _PMX2) & _M
        return value ^ (value >> 28)
    if n <= 16:
        low = (_u64(_SECRET, 24) ^ _u64(_SECRET, 32)) ^ _u64(data, 0)
        high = (_u64(_SECRET, 40) ^ _u64(_SECRET, 48)) ^ _u64(data, n - 8)
        swapped = int.from_bytes(low.to_bytes(8, "little"), "big")
        return _avalanche((n + swapped + high + _mul_fold(low, high)) & _M)
    acc = (n * _P64_1) & _M
    if n <= 128:
        for i in range(((n - 1) >> 5), -1, -1):
            acc += _mix16(data, i * 16, i * 32) + _mix16(data, n - i * 16 - 16, i * 32 + 16)
        return _avalanche(acc & _M)
    for i in range(8):
        acc += _mix16(data, i * 16, i * 16)
    acc = _avalanche(acc & _M)
    for i in range(8, n >> 4):
        acc += _mix16(data, i * 16, (i - 8) * 16 + 3)
    acc += _mix16(data, n - 16, 119)
    return _avalanche(acc & _M)


# The secret words each of a block's 16 stripes meets: stripe n uses bytes [8n, 8n + 64).
_STRIPE_SECRETS = np.stack([np.frombuffer(_SECRET[8 * n:8 * n + 64], dtype="<u8") for n in range(16)])
_SWAP = np.array([1, 0, 3, 2, 5, 4, 7, 6])


def _xxh3_large(data):
    n = len(data)
    acc = np.array([_P32_3, _P64_1, _P64_2, _P64_3, _P64_4, _P32_2, _P64_5, _P32_1], dtype=np.uint64)
    scramble = np.frombuffer(_SECRET[128:192], dtype="<u8")
    words = np.frombuffer(data, dtype="<u8", count=n // 8)
    blocks = (n - 1) // 1024
    with np.errstate(over="ignore"):
        for b in range(blocks):  # every full block but the last: accumulate 16 stripes, scramble
            stripes = words[b * 128:(b + 1) * 128].reshape(16, 8)
            acc = _accumulate_block(acc, stripes)
            acc ^= acc >> np.uint64(47)
            acc ^= scramble
            acc *= np.uint64(_P32_1)
        last = n - blocks * 1024
        full = (last - 1) // 64
        if full:
            stripes = words[blocks * 128:blocks * 128 + full * 8].reshape(full, 8)
            acc = _accumulate_block(acc, stripes)
        tail = np.frombuffer(data[n - 64:], dtype="<u8")
        acc = _accumulate_block(acc, tail.reshape(1, 8), np.frombuffer(_SECRET[121:185], dtype="<u8").reshape(1, 8))
    a = [int(x) for x in acc]
    result = (n * _P64_1) & _M
    for i in range(4):
        result += _mul_fold(a[2 * i] ^ _u64(_SECRET, 11 + 16 * i), a[2 * i + 1] ^ _u64(_SECRET, 19 + 16 * i))
    return _avalanche(result & _M)


def _accumulate_block(acc, stripes, secrets=None):
    """acc + the contributions of `stripes` (k, 8), stripe j meeting the secret at byte 8j."""
    if secrets is None:
        secrets = _STRIPE_SECRETS[:len(stripes)]
    value = stripes ^ secrets
    products = (value & np.uint64(0xFFFFFFFF)) * (value >> np.uint64(32))
    return acc + products.sum(axis=0, dtype=np.uint64) + stripes.sum(axis=0, dtype=np.uint64)[_SWAP]


def _xxh3_64_python(data):
    data = bytes(data)
    return _xxh3_small(data) if len(data) <= 240 else _xxh3_large(data)


try:  # the C implementation, when installed
    import xxhash as _xxhash

    def xxh3_64(data):
        """XXH3-64 (seed 0) of bytes, as an int."""
        return _xxhash.xxh3_64_intdigest(bytes(data))
except ImportError:  # pragma: no cover - depends on the machine
    xxh3_64 = _xxh3_64_python


# --- the checkpoint format ---------------------------------------------------------------------

_DTYPES = {0: "<f4", 1: "<f8", 2: "<i4", 3: "<i8", 4: "<u4"}
_HEADER, _FOOTER = 17, 32


class Step:
    """One committed step: its number, metrics, arrays and kinds per State item, JSON items."""

    def __init__(self, step, metrics, arrays, kinds, json_items, directory):
        self.step, self.metrics, self.arrays, self.kinds = step, metrics, arrays, kinds
        self.json, self.directory = json_items, directory

    def __repr__(self):
        return "Step(%d, items=%s)" % (self.step, sorted(list(self.arrays) + list(self.json)))


def _read(path, limit=None):
    if os.path.islink(path) or not os.path.isfile(path):
        raise CheckpointError("'%s' is missing or not a regular file" % path)
    size = os.path.getsize(path)
    if limit is not None and size > limit:
        raise CheckpointError("'%s' is %d bytes, more than the %d such a file may have" % (path, size, limit))
    with open(path, "rb") as f:
        return f.read()


def _step_number(name):
    return int(name.split("_")[-1]) if re.fullmatch(r"(?:[A-Za-z0-9]+_)?[0-9]{1,18}", name) else None


def list_steps(directory):
    """The committed steps of a checkpoint directory (those with _COMMIT), ascending."""
    steps = {}
    for name in sorted(os.listdir(directory)):
        step = _step_number(name)
        path = os.path.join(directory, name)
        if step is not None and os.path.isdir(path) and os.path.isfile(os.path.join(path, "_COMMIT")):
            steps.setdefault(step, path)
    return sorted(steps)


def _step_directory(directory, step):
    for name in sorted(os.listdir(directory)):
        if _step_number(name) == step and os.path.isfile(os.path.join(directory, name, "_COMMIT")):
            return os.path.join(directory, name)
    raise CheckpointError("step %d is not in '%s' (committed steps: %s)" % (step, directory, list_steps(directory)))


def _manifest(path):
    """_COMMIT: {file: (size, xxh3)} for format 2; {} for format 1. Also the step it names."""
    try:
        text = _read(path, 1 << 20).decode("utf-8", "strict")
    except UnicodeDecodeError as e:
        raise CheckpointError("'%s' is not a valid manifest (%s): the step is damaged" % (path, e)) from None
    legacy = re.fullmatch(r"nnx-checkpoint 1 step ([0-9]+)\n", text)
    if legacy:
        return int(legacy.group(1)), {}
    end = text.rfind("end ")
    if end < 0 or len(text) != end + 21 or not text.endswith("\n"):
        raise CheckpointError("'%s' is not a valid manifest (no end line)" % path)
    if int(text[end + 4:end + 20], 16) != xxh3_64(text[:end].encode()):
        raise CheckpointError("'%s' is not a valid manifest (its checksum does not match): the step is damaged" % path)
    lines = text[:end].splitlines()
    head = re.fullmatch(r"nnx-checkpoint 2 step ([0-9]+)", lines[0]) if lines else None
    if not head:
        raise CheckpointError("'%s' is of a step format this reader does not know: %r" % (path, lines[:1]))
    files = {}
    for line in lines[1:]:
        m = re.fullmatch(r"file ([0-9a-f]{16}) ([0-9]+) (.+)", line)
        if not m:
            raise CheckpointError("'%s' is not a valid manifest (a line reads %r)" % (path, line[:60]))
        files[m.group(3)] = (int(m.group(2)), int(m.group(1), 16))
    return int(head.group(1)), files


def _check_digest(files, name, size, digest, path):
    if not files:
        return
    if name not in files:
        raise CheckpointError("'%s' is not in the step's manifest (_COMMIT): the step is damaged" % path)
    if files[name] != (size, digest):
        raise CheckpointError("'%s' does not match the step's manifest (_COMMIT): the file is damaged" % path)


class _Parser:
    def __init__(self, data, path):
        self.data, self.i, self.path = data, 0, path

    def take(self, n, what):
        if n > len(self.data) - self.i:
            raise CheckpointError("'%s': the index is damaged (%s needs %d bytes, %d left)" % (self.path, what, n, len(self.data) - self.i))
        self.i += n
        return self.data[self.i - n:self.i]

    def u(self, fmt, what):
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt), what))[0]

    def string(self, what):
        return self.take(self.u("I", what), what).decode("utf-8")


def _read_array_file(path, files, name):
    data = _read(path)
    if len(data) < _HEADER + _FOOTER:
        raise CheckpointError("'%s' is truncated (%d bytes)" % (path, len(data)))
    if data[0] != 1 or data[1:9] != b"NNXARRAY":
        raise CheckpointError("'%s' is not an nnx array file" % path)
    version, flags = struct.unpack("<II", data[9:17])
    if version != 1 or flags != 0:
        raise CheckpointError("'%s' has array format version %d, flags %d; this reader knows version 1, flags 0" % (path, version, flags))
    index_offset, index_size, index_sum = struct.unpack("<QQQ", data[-32:-8])
    if data[-8:] != b"NNXA_END":
        raise CheckpointError("'%s' is truncated (no end marker)" % path)
    if index_offset < _HEADER or index_offset + index_size + _FOOTER != len(data):
        raise CheckpointError("'%s': the footer points outside the file" % path)
    index = data[index_offset:index_offset + index_size]
    if xxh3_64(index) != index_sum:
        raise CheckpointError("'%s': the index checksum does not match: the file is damaged" % path)
    _check_digest(files, name, len(data), index_sum, path)
    p = _Parser(index, path)
    if p.u("B", "endianness flag") != 1:
        raise CheckpointError("'%s': the index is not little-endian" % path)
    arrays, kinds, expected = {}, {}, _HEADER
    for _ in range(p.u("Q", "entry count")):
        keys = []
        for _ in range(p.u("I", "key count")):
            keys.append(str(p.u("q", "an index key")) if p.u("B", "a key tag") == 1 else p.string("a name key"))
        key = "/".join(keys)
        kind = p.string("a kind")
        for _ in range(p.u("I", "metadata count")):
            p.string("a metadata key"), p.string("a metadata value")
        code = p.u("B", "dtype")
        if code not in _DTYPES:
            raise CheckpointError("'%s': '%s' has unknown dtype code %d" % (path, key, code))
        shape = tuple(p.u("q", "a dimension") for _ in range(p.u("B", "rank")))
        offset, nbytes, checksum = p.u("Q", "offset"), p.u("Q", "nbytes"), p.u("Q", "checksum")
        dtype = np.dtype(_DTYPES[code])
        if offset != expected or nbytes != int(np.prod(shape, dtype=object)) * dtype.itemsize or offset + nbytes > index_offset:
            raise CheckpointError("'%s': '%s' claims %d bytes at offset %d that do not fit the data section" % (path, key, nbytes, offset))
        raw = data[offset:offset + nbytes]
        if xxh3_64(raw) != checksum:
            raise CheckpointError("'%s': array '%s' is corrupted: its checksum does not match" % (path, key))
        arrays[key] = np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
        kinds[key] = kind
        expected = offset + nbytes
    if expected != index_offset or p.i != len(index):
        raise CheckpointError("'%s': the arrays do not cover the data section exactly" % path)
    return arrays, kinds


def _json(text, path):
    try:
        value = json.loads(text)
    except ValueError as e:  # also UnicodeDecodeError
        raise CheckpointError("'%s' is not valid JSON (%s): the step is damaged" % (path, e)) from None
    if not isinstance(value, dict):
        raise CheckpointError("'%s' is not a JSON object: the step is damaged" % path)
    return value


def load_step(directory, step=None):
    """Reads a committed step (default: the latest), verifying every checksum; returns a Step."""
    try:
        return _load_step(directory, step)
    except CheckpointError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, struct.error) as e:
        raise CheckpointError("the step of '%s' is damaged: %s: %s" % (directory, type(e).__name__, e)) from None


def _load_step(directory, step):
    if step is None:
        steps = list_steps(directory)
        if not steps:
            raise CheckpointError("'%s' holds no committed checkpoint" % directory)
        step = steps[-1]
    path = _step_directory(directory, step)
    commit_step, files = _manifest(os.path.join(path, "_COMMIT"))
    meta_path = os.path.join(path, "_METADATA.json")
    meta_bytes = _read(meta_path, 1 << 20)
    _check_digest(files, "_METADATA.json", len(meta_bytes), xxh3_64(meta_bytes), meta_path)
    meta = _json(meta_bytes, meta_path)
    if meta.get("format") != "nnx-checkpoint" or meta.get("format_version") not in (1, 2):
        raise CheckpointError("'%s' is not step metadata this reader knows (format %r, version %r)" %
                              (meta_path, meta.get("format"), meta.get("format_version")))
    if meta["step"] != commit_step or meta["step"] != step:
        raise CheckpointError("'%s' records step %r, its _COMMIT step %r, its directory step %d: the step is damaged" %
                              (meta_path, meta["step"], commit_step, step))
    arrays, kinds, json_items = {}, {}, {}
    for item in meta["items"]:
        file = os.path.join(path, item["file"])
        if item["type"] == "state":
            arrays[item["name"]], kinds[item["name"]] = _read_array_file(file, files, item["file"])
        else:
            text = _read(file, 64 << 20)
            _check_digest(files, item["file"], len(text), xxh3_64(text), file)
            json_items[item["name"]] = _json(text, file)["value"]
    return Step(step, dict(meta.get("metrics", {})), arrays, kinds, json_items, path)


def load(directory, step=None, item="default"):
    """The arrays of one State item of a step (default: the latest), as {path: ndarray}."""
    s = load_step(directory, step)
    if item not in s.arrays:
        raise CheckpointError("step %d has no State item '%s' (items: %s)" % (s.step, item, sorted(s.arrays)))
    return s.arrays[item]
