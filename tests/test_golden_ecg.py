"""The golden model on the whole QTDB test set (141 records x 1301 steps)."""

import numpy as np
import pytest

from spikeforge.datasets import load_qtdb
from spikeforge.golden import Formats, InputError, quantize, simulate, simulate_float
from spikeforge.golden.randnet import random_float_network


def test_float_alif_network_runs_on_the_whole_ecg_test_set(qtdb_dir):
    x, y = load_qtdb("test", qtdb_dir)
    assert x.shape == (141, 1301, 4) and y.shape == (141, 1301)
    fnet = random_float_network(0, 4, (36,), 6)
    net = quantize(fnet)
    result = simulate(net, x)
    assert result.readout.shape == (141, 1301, 6) and result.decisions.shape == (141, 1301)
    assert result.input_events.sum() == np.count_nonzero(x)
    assert 0 < result.layer_spikes[:, 0].sum() < 141 * 1301 * 36
    # quantisation converges to the float network: at 16-bit weights and
    # 20-bit decays almost every spike of the float twin is reproduced
    fspikes = simulate_float(fnet, x[:10]).spikes[0]
    fine = simulate(quantize(fnet, Formats(weight_bits=16, decay_bits=20, state_bits=31)), x[:10])
    assert np.mean(fine.spikes[0] == fspikes) > 0.999
    assert abs(fine.spikes[0].mean() - fspikes.mean()) < 0.01 * fspikes.mean()


def test_qtdb_loader_errors(tmp_path):
    with pytest.raises(InputError, match="QTDB file not found"):
        load_qtdb("test", tmp_path)
    with pytest.raises(InputError, match="split 'valid'"):
        load_qtdb("valid", tmp_path)
    (tmp_path / "QTDB_test.mat").write_text("junk")
    with pytest.raises(InputError, match="not a readable MATLAB file"):
        load_qtdb("test", tmp_path)
