"""Fuzzing the file readers: network files, input files, float network files, PyTorch state
dicts. Every case must end clean: loaded exactly as written, or one error of the
project's own kind (never a traceback of another type, never a hang, never code run).

    python benchmarks/fuzz_files.py [--cases N] [--seed S] [--json]

Byte-level mutations (flipped, inserted, deleted bytes, truncation) and structural ones
(header JSON with NaN, Infinity, 1e400, deep nesting, wrong types, unknown fields; arrays
of the wrong dtype, shape or size, stray or missing arrays, members that are not arrays,
a .npy given as .npz, sizes beyond the limits). Prints counts per class: tried / loaded
exactly / clean error / traceback / wrong result / hang (a case over --timeout seconds).
The test suite runs a short seeded version (tests/test_fuzz_files.py).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
import traceback
import zipfile

import numpy as np

from spikeforge.golden import InputError, Network, NetworkFileError
from spikeforge.golden.inputs import load_inputs, save_inputs
from spikeforge.golden.randnet import random_events, random_network, random_theta_network
from spikeforge.golden.reference import load_float_network
from spikeforge.golden.randnet import random_float_network

#: "loaded a valid variant": a structural mutation that left a valid file (another name, a
#: different but legal value), loaded as it says; "wrong result": a byte-level mutation that
#: loaded as something else than the file held (the zip CRCs must catch those).
CLASSES = ("loaded exactly", "loaded a valid variant", "clean error", "traceback", "wrong result",
           "hang")


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def _members(data: bytes) -> dict:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


# -- byte-level mutations --

def mutate_bytes(data: bytes, rng) -> bytes:
    b = bytearray(data)
    how = rng.integers(0, 5)
    if how == 0:                                     # flip a few bytes
        for _ in range(int(rng.integers(1, 6))):
            b[int(rng.integers(0, len(b)))] ^= int(rng.integers(1, 256))
    elif how == 1:                                   # truncate
        b = b[:int(rng.integers(0, len(b)))]
    elif how == 2:                                   # insert junk
        at = int(rng.integers(0, len(b)))
        b[at:at] = bytes(rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8))
    elif how == 3:                                   # delete a run
        at = int(rng.integers(0, len(b)))
        del b[at:at + int(rng.integers(1, 64))]
    else:                                            # zero a run (zip fields, flags)
        at = int(rng.integers(0, len(b)))
        b[at:at + int(rng.integers(1, 16))] = bytes(min(16, len(b) - at))
    return bytes(b)


# -- structural mutations of a network file --

ODD_VALUES = [float("nan"), float("inf"), -float("inf"), 10 ** 400, "1e400", None, "x", [1], {},
              -1, 0, True, 2 ** 63, -2 ** 63 - 1, 1.5, "NaN", []]


def _nested(depth) -> str:
    return "[" * depth + "0" + "]" * depth


def _header_text(header) -> str:
    text = json.dumps(header, allow_nan=True)
    return text.replace('"__INF__"', "Infinity").replace('"__NAN__"', "NaN")


def mutate_network(arrays: dict, rng) -> dict:
    arrays = dict(arrays)
    header = json.loads(str(arrays["header"][()]))
    how = rng.integers(0, 12)
    paths = []

    def walk(obj, path):
        paths.append(path)
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, path + (k,))
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(v, path + (i,))

    walk(header, ())
    if how <= 4:                                     # an odd value somewhere in the header
        path = paths[int(rng.integers(1, len(paths)))]
        value = ODD_VALUES[int(rng.integers(0, len(ODD_VALUES)))]
        obj = header
        for p in path[:-1]:
            obj = obj[p]
        if isinstance(value, float) and not np.isfinite(value):
            value = "__NAN__" if np.isnan(value) else "__INF__"
        obj[path[-1]] = value
        arrays["header"] = np.array(_header_text(header))
    elif how == 5:                                   # deep nesting or a huge number as text
        arrays["header"] = np.array(json.dumps({**header, "name": "x"})[:-1]
                                    + ', "deep": ' + _nested(5000) + "}"
                                    if rng.random() < 0.5 else
                                    json.dumps(header).replace('"scale": ', '"scale": 1e400, "x": '))
    elif how == 6:                                   # an unknown field
        header[str(rng.choice(["extra", "w_rec", "comment"]))] = 1
        arrays["header"] = np.array(json.dumps(header))
    elif how == 7:                                   # a stray or missing array
        key = sorted(k for k in arrays if k != "header")[int(rng.integers(0, len(arrays) - 1))]
        if rng.random() < 0.5:
            del arrays[key]
        else:
            arrays[key + "_copy"] = arrays[key]
    elif how == 8:                                   # an array of the wrong dtype or shape
        key = sorted(k for k in arrays if k != "header")[int(rng.integers(0, len(arrays) - 1))]
        a = arrays[key]
        variants = [a.astype(np.float32), a.astype(np.uint64), a.reshape(-1),
                    a[..., :-1] if a.size > 1 else a[:0], a.astype(bool),
                    np.full(a.shape, 2 ** 40, np.int64)]
        arrays[key] = variants[int(rng.integers(0, len(variants)))]
    elif how == 9:                                   # huge declared sizes
        header["layers"][0]["size"] = int(rng.choice([1 << 17, 25_000_000, 1 << 40]))
        arrays["header"] = np.array(json.dumps(header))
    elif how == 10:                                  # the header not a string
        variants = [np.zeros(3), np.array([json.dumps(header)]), np.array(b"x")]
        arrays["header"] = variants[int(rng.integers(0, len(variants)))]
    else:                                            # the version or format changed
        header[str(rng.choice(["version", "format"]))] = rng.choice([0, 3, "2", "other"]).item()
        arrays["header"] = np.array(json.dumps(header))
    return arrays


def _raw_zip(members: dict) -> bytes:
    """A zip with raw members (to put things np.savez never writes into an .npz)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


# -- running cases --

def _same_network(a: Network, b: Network) -> bool:
    if a.summary() != b.summary() or a.formats != b.formats or a.theta != b.theta:
        return False
    for la, lb in zip(a.layers, b.layers):
        for name in ("w_in", "w_rec", "bias", "alpha", "rho", "b0", "adapt", "alpha_syn", "p0", "q0"):
            va, vb = getattr(la, name), getattr(lb, name)
            if (va is None) != (vb is None) or (va is not None and not np.array_equal(va, vb)):
                return False
    return True


def classify(load, data: bytes, folder: str, expected, same, errors, timeout: float) -> str:
    path = os.path.join(folder, "case.npz")
    with open(path, "wb") as fh:
        fh.write(data)
    start = time.perf_counter()
    try:
        got = load(path)
    except errors:
        outcome = "clean error"
    except Exception:
        outcome = "traceback"
        classify.last_traceback = traceback.format_exc()
    else:
        if expected is None:
            outcome = "loaded a valid variant"
        else:
            outcome = "loaded exactly" if same(got, expected) else "wrong result"
    if time.perf_counter() - start > timeout:
        outcome = "hang"
    return outcome


classify.last_traceback = ""


def cases(seed: int, n: int):
    """(kind, bytes, expected object or None) fuzz cases, deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    nets = [random_network(seed, 4, (6,), 3), random_network(seed + 1, 3, (5, 4), 2, recurrent=False),
            random_theta_network(seed + 2, 4, (5,), 3, steps=6)]
    net_files = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, net in enumerate(nets):
            net.save(os.path.join(tmp, f"n{k}.npz"))
            with open(os.path.join(tmp, f"n{k}.npz"), "rb") as fh:
                net_files.append((fh.read(), Network.load(os.path.join(tmp, f"n{k}.npz"))))
        x = random_events(seed, 3, 5, 4, values=(1, -1))
        y = np.arange(3) % 3
        save_inputs(os.path.join(tmp, "in.npz"), x, y)
        with open(os.path.join(tmp, "in.npz"), "rb") as fh:
            input_bytes = fh.read()
        fnet = random_float_network(seed, 3, (4,), 2)
        fnet.save(os.path.join(tmp, "f.npz"))
        with open(os.path.join(tmp, "f.npz"), "rb") as fh:
            float_bytes = fh.read()
        fnet = load_float_network(os.path.join(tmp, "f.npz"))
    for i in range(n):
        which = i % 6
        data, net = net_files[int(rng.integers(0, len(net_files)))]
        if which in (0, 1):
            yield "network", mutate_bytes(data, rng), net
        elif which in (2, 3):
            arrays = mutate_network(_members(data), rng)
            yield "network", _npz_bytes(arrays), None
        elif which == 4:
            if rng.random() < 0.7:
                yield "inputs", mutate_bytes(input_bytes, rng), (x, y)
            else:
                odd = [{"x": x.astype(np.uint64) + np.uint64(2 ** 63)}, {"x": x, "z": x},
                       {"x": x.astype(np.float64)}, {"x": x[0]}, {"x": x, "y": np.zeros(7, np.int64)},
                       {"x": x, "y": y.astype(np.float32)}]
                yield "inputs", _npz_bytes(odd[int(rng.integers(0, len(odd)))]), None
        else:
            special = [_raw_zip({"header.npy": b"not an array"}), _raw_zip({"notes.txt": b"hello"}),
                       data[:0], b"PK\x03\x04" + bytes(40), _npy(np.zeros(3)), b"hello world"]
            if rng.random() < 0.5:
                yield "network", special[int(rng.integers(0, len(special)))], None
            else:
                yield "float", mutate_bytes(float_bytes, rng), fnet


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _same_inputs(got, want) -> bool:
    (gx, gy), (wx, wy) = got, want
    return np.array_equal(gx, wx) and ((gy is None and wy is None) or np.array_equal(gy, wy))


def _same_float(a, b) -> bool:
    if len(a.layers) != len(b.layers) or a.n_inputs != b.n_inputs or a.theta != b.theta:
        return False
    for la, lb in zip(a.layers, b.layers):
        for name in ("w_in", "w_rec", "bias", "tau_m", "tau_adp", "b0", "beta", "tau_syn", "phi0"):
            va, vb = getattr(la, name), getattr(lb, name)
            if (va is None) != (vb is None) or (va is not None and not np.array_equal(va, vb)):
                return False
    return True


LOADERS = {
    "network": (Network.load, _same_network, (NetworkFileError,)),
    "inputs": (load_inputs, _same_inputs, (InputError,)),
    "float": (load_float_network, _same_float, (NetworkFileError,)),
}


def run(seed: int = 0, n: int = 400, timeout: float = 5.0) -> dict:
    counts = {kind: {c: 0 for c in CLASSES} for kind in LOADERS}
    tracebacks = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, data, expected in cases(seed, n):
            load, same, errors = LOADERS[kind]
            outcome = classify(load, data, tmp, expected, same, errors, timeout)
            counts[kind][outcome] += 1
            if outcome == "traceback" and len(tracebacks) < 5:
                tracebacks.append(classify.last_traceback.strip().splitlines()[-1])
    return {"counts": counts, "tracebacks": tracebacks}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    result = run(args.seed, args.cases, args.timeout)
    result["seconds"] = round(time.perf_counter() - start, 1)
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for kind, counts in result["counts"].items():
        tried = sum(counts.values())
        print(f"{kind:8s} tried {tried:5d}: " + ", ".join(f"{c} {counts[c]}" for c in CLASSES))
    for line in result["tracebacks"]:
        print(f"traceback: {line}")
    print(f"{args.cases} cases in {result['seconds']} s")


if __name__ == "__main__":
    main()
