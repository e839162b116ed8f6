"""Minimal .safetensors reader and writer (numpy only), shared by the Python tools.

Format (https://github.com/huggingface/safetensors): 8-byte little-endian header length N,
N bytes of JSON header, then the raw little-endian tensor data. The header maps each tensor
name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data start)
and may carry "__metadata__", a string -> string map. clsde model files are such files with
F32 tensors only; see tools/README.md for their metadata keys.
"""

import json
import os
import struct
import tempfile

import numpy as np

# safetensors dtype name -> numpy dtype (little-endian). BF16 has no numpy type: it is read
# as its raw uint16 bits and widened to float32 by to_float32().
DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"), "U64": np.dtype("<u8"), "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_NAMES = {np.dtype(v).newbyteorder("<"): k for k, v in DTYPES.items() if k not in ("BF16",)}

# The header is JSON the writer produced or a stranger did; cap it so a corrupt length field
# cannot make us allocate gigabytes (the Rust implementation uses the same 100 MB limit).
MAX_HEADER = 100 * 1000 * 1000


class SafetensorsError(Exception):
    """A file that is not a valid .safetensors file, or a tensor we cannot write."""


def _fail(path, msg):
    raise SafetensorsError("%s: %s" % (os.path.basename(str(path)), msg))


def read_header(path):
    """Return (header dict without __metadata__, metadata dict, data start offset).

    Validates what a reader needs before touching any data: dtypes, shapes, and that the
    offsets tile the data section exactly (no gaps, no overlap, nothing past the end).
    The returned dict keeps the header's own order.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            _fail(path, "file is %d bytes, shorter than the 8-byte header length" % size)
        (n,) = struct.unpack("<Q", raw)
        if n > MAX_HEADER or n > size - 8:
            _fail(path, "header length %d does not fit in a %d-byte file" % (n, size))
        text = f.read(n)
    try:
        header = json.loads(text.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        _fail(path, "header is not valid JSON (%s)" % e)
    if not isinstance(header, dict):
        _fail(path, "header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        _fail(path, "__metadata__ must map strings to strings")
    start = 8 + n
    spans = []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            _fail(path, "tensor '%s': entry needs exactly dtype, shape, data_offsets" % name)
        dt = DTYPES.get(info["dtype"])
        if dt is None:
            _fail(path, "tensor '%s': unsupported dtype %r" % (name, info["dtype"]))
        shape, offs = info["shape"], info["data_offsets"]
        if not (isinstance(shape, list) and all(_is_uint(d) for d in shape)):
            _fail(path, "tensor '%s': bad shape %r" % (name, shape))
        if not (isinstance(offs, list) and len(offs) == 2 and all(_is_uint(o) for o in offs)
                and offs[0] <= offs[1]):
            _fail(path, "tensor '%s': bad data_offsets %r" % (name, offs))
        want = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        if offs[1] - offs[0] != want:
            _fail(path, "tensor '%s': data_offsets %r hold %d bytes, shape %r %s needs %d"
                  % (name, offs, offs[1] - offs[0], shape, info["dtype"], want))
        spans.append((offs[0], offs[1], name))
    spans.sort()
    pos = 0
    for b, e, name in spans:
        if b != pos:
            _fail(path, "tensor '%s' starts at data offset %d, expected %d (gap or overlap)"
                  % (name, b, pos))
        pos = e
    if start + pos != size:
        _fail(path, "data section is %d bytes, tensors cover %d" % (size - start, pos))
    return header, meta, start


def load(path, mmap=False):
    """Return (tensors, metadata): an insertion-ordered dict name -> numpy array in the
    file's dtype (BF16 as float32), in data-offset order, and the __metadata__ dict.

    With mmap=True the arrays are read-only views of a memory map (BF16 is still copied),
    so a large file costs no memory until its tensors are used.
    """
    header, meta, start = read_header(path)
    out = {}
    order = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])
    if mmap:
        mm = np.memmap(path, dtype=np.uint8, mode="r")
    with open(path, "rb") as f:
        for name, info in order:
            b, e = info["data_offsets"]
            if mmap:
                buf = mm[start + b:start + e]
            else:
                f.seek(start + b)
                buf = f.read(e - b)
                if len(buf) != e - b:
                    _fail(path, "tensor '%s': file ends inside its data" % name)
            a = np.frombuffer(buf, dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
            if info["dtype"] == "BF16":
                a = (a.astype("<u4") << 16).view("<f4")
            elif not mmap:
                a = a.astype(a.dtype.newbyteorder("="), copy=True)
            out[name] = a
    return out, meta


def to_float32(a):
    """Widen a float16/float32 array to float32 exactly; anything else is an error, since
    a narrowing or integer conversion would silently change weights."""
    a = np.asarray(a)
    if a.dtype.kind == "f" and a.dtype.itemsize <= 4:
        return a.astype(np.float32)
    raise SafetensorsError("dtype %s cannot be converted to F32 exactly" % a.dtype)


def save(path, tensors, metadata=None):
    """Write tensors atomically to path.

    tensors: sequence of (name, t) in the order they should appear (header order = data
    order). t is a numpy array, or any object with .shape, .dtype (numpy dtype) and a
    .numpy() method that materialises it (so large checkpoints stream one tensor at a
    time). metadata: dict of str -> str for __metadata__.

    The data goes to a temporary file in the same directory, which replaces path only once
    it is complete and fsync'ed; on any error the temporary file is removed and path is
    left as it was.
    """
    tensors = list(tensors)
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise SafetensorsError("metadata %r: keys and values must be strings" % (k,))
        header["__metadata__"] = dict(metadata)
    pos = 0
    for name, t in tensors:
        if name in header or name == "__metadata__":
            raise SafetensorsError("tensor name '%s' used twice" % name)
        dt = np.dtype(t.dtype).newbyteorder("<")
        if dt not in _NAMES:
            raise SafetensorsError("tensor '%s': dtype %s has no safetensors name" % (name, dt))
        shape = [int(d) for d in t.shape]
        nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        header[name] = {"dtype": _NAMES[dt], "shape": shape, "data_offsets": [pos, pos + nbytes]}
        pos += nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # data starts 8-byte aligned, as the Rust writer does

    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=d)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for name, t in tensors:
                a = t.numpy() if hasattr(t, "numpy") and not isinstance(t, np.ndarray) else t
                a = np.ascontiguousarray(a, dtype=np.dtype(t.dtype).newbyteorder("<"))
                want = header[name]
                if list(a.shape) != want["shape"]:
                    raise SafetensorsError("tensor '%s': materialised shape %r, declared %r"
                                           % (name, list(a.shape), want["shape"]))
                f.write(a.tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _is_uint(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _no_duplicates(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError("duplicate key %r" % k)
        d[k] = v
    return d
