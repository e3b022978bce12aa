"""The built-in trained networks reach their stated accuracy through the golden model."""

from spikeforge import builtin
from spikeforge.golden import Decision, accuracy, simulate


#: Stated fixed-point test accuracies (docs/training.md), measured with the golden model.
DIGITS_ACCURACY = 0.968
ECG_ACCURACY = 0.832   # seed 2 of the recipe, picked by validation score (83.23 %)


def test_builtin_digits_reaches_its_accuracy():
    from spikeforge.train.data import load_digits_split
    net = builtin.load("digits")
    x, y = load_digits_split("test")
    assert net.decision is Decision.LAST and net.n_inputs == x.shape[2]
    result = simulate(net, x)
    assert accuracy(net, result.decisions, y) >= DIGITS_ACCURACY
    rate = result.layer_spikes[:, 0].sum() / (x.shape[0] * x.shape[1] * net.layers[0].size)
    assert 0.01 < rate < 0.5


def test_builtin_ecg_reaches_its_accuracy(qtdb_dir):
    assert builtin.names() == ["digits", "digits-ttfs", "ecg"]
    from spikeforge.datasets import load_qtdb
    net = builtin.load("ecg")
    assert net.summary() == "4 -> 36 rec lif -> 6 alif"
    assert net.decision is Decision.PER_STEP and net.skip_steps == 10
    x, y = load_qtdb("test", qtdb_dir)
    result = simulate(net, x)
    assert accuracy(net, result.decisions, y) >= ECG_ACCURACY
