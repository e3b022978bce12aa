"""Fuzzed network, input and float network files, and odd PyTorch state dicts: every case
ends clean — loaded exactly, a legal variant, or one error of the project's kind — never a
traceback, a hang or a silently different result (benchmarks/fuzz_files.py runs longer)."""

import numpy as np
import pytest

from conftest import load_benchmark, require_extra

fuzz_files = load_benchmark("fuzz_files")


@pytest.mark.parametrize("seed", [11, 12])
def test_fuzzed_files_end_clean(seed):
    result = fuzz_files.run(seed=seed, n=900, timeout=10.0)
    for kind, counts in result["counts"].items():
        assert counts["traceback"] == 0 and counts["wrong result"] == 0 and counts["hang"] == 0, \
            (kind, counts, result["tracebacks"])
        assert counts["clean error"] > 0


def test_a_network_declaring_millions_of_neurons_is_refused_before_reading(tmp_path):
    """245 KB declaring 25 M neurons used to take 3.8 GB: the header is checked first."""
    import json
    from spikeforge.golden import Network, NetworkFileError
    from spikeforge.golden.randnet import random_network
    net = random_network(0, 3, (), 2)
    net.save(tmp_path / "n.npz")
    with np.load(tmp_path / "n.npz") as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["header"][()]))
    header["layers"][0]["size"] = 25_000_000
    arrays["header"] = np.array(json.dumps(header))
    arrays["layers.0.w_in"] = np.zeros((3, 25_000_000), np.int8)
    for name in ("bias", "alpha", "rho", "b0", "adapt"):
        arrays[f"layers.0.{name}"] = np.zeros(25_000_000, np.int8)
    with open(tmp_path / "big.npz", "wb") as fh:
        np.savez_compressed(fh, **arrays)
    assert (tmp_path / "big.npz").stat().st_size < 2_000_000
    with pytest.raises(NetworkFileError, match="size: 25000000 is not in 1..65536"):
        Network.load(tmp_path / "big.npz")


@pytest.mark.parametrize("make, message", [
    (lambda t: {"i2h.weight": t.zeros(3, 2).to_sparse()}, "sparse"),
    (lambda t: {"i2h.weight": t.zeros(3, 2, device="meta")}, "without data"),
    (lambda t: {"i2h.weight": t.quantize_per_tensor(t.zeros(3, 2), 0.1, 0, t.qint8)},
     "dequantise first"),
    (lambda t: {"i2h.weight": t.zeros(3, 2, dtype=t.complex64)}, "dtype"),
])
def test_odd_tensors_in_a_state_dict_are_one_line_errors(tmp_path, make, message):
    torch = require_extra("torch", "train")
    from spikeforge.importers import ImportFileError, load_torch_state_dict
    path = tmp_path / "m.pth"
    torch.save(make(torch), path)
    with pytest.raises(ImportFileError, match=message) as info:
        load_torch_state_dict(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
