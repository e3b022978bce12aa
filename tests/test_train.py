"""The SRNN trainer: surrogate gradient, float and integer twins against the golden
model, deterministic training, the train command."""

import json
import math
import sys

import numpy as np
import pytest

from conftest import require_extra

torch = require_extra("torch", "train")

from spikeforge.golden import (Decision, Formats, NeuronKind, Rounding, quantize,  # noqa: E402
                               simulate, simulate_float)
from spikeforge.golden.randnet import random_events  # noqa: E402
from spikeforge.train.srnn import SRNN, LayerSpec, multi_gaussian, spike  # noqa: E402
from spikeforge.train.trainer import RECIPES, Recipe, Trainer  # noqa: E402

torch.set_num_threads(1)


def small_model(seed=1, kind=NeuronKind.ALIF, recurrent=True, decision=Decision.PER_STEP,
                weight_clip=None):
    return SRNN(4, [LayerSpec(12, kind, recurrent=recurrent, b0=0.1),
                    LayerSpec(6, NeuronKind.ALIF, recurrent=False, b0=0.1, tau_m=(10.0, 2.0)),
                    LayerSpec(3, NeuronKind.LI, recurrent=False, tau_m=(5.0, 1.0))],
                seed=seed, decision=decision, weight_clip=weight_clip)


def test_surrogate_gradient_is_the_multi_gaussian():
    v = torch.linspace(-3, 3, 61, dtype=torch.float64, requires_grad=True)
    s = spike(v)
    assert s.shape == v.shape
    assert torch.equal(s, (v > 0).double())
    s.sum().backward()
    g = v.grad
    assert torch.allclose(g, multi_gaussian(v.detach()))
    assert torch.allclose(g, g.flip(0))  # symmetric around the threshold
    n = lambda x, mu, sig: math.exp(-(x - mu) ** 2 / (2 * sig ** 2)) / (math.sqrt(2 * math.pi) * sig)
    at0 = 0.5 * (1.15 * n(0, 0, 0.5) - 0.15 * n(0, 0.5, 3.0) - 0.15 * n(0, -0.5, 3.0))
    assert g[30].item() == pytest.approx(at0, rel=1e-12)
    assert g[0].item() < 0  # negative side lobes far from the threshold
    assert int(g.argmax()) == 30


@pytest.mark.parametrize("kind", [NeuronKind.ALIF, NeuronKind.LIF])
def test_torch_forward_equals_simulate_float(kind):
    model = small_model(kind=kind)
    x = random_events(3, 4, 60, 4, rate=0.4, values=(1, -1))
    with torch.no_grad():
        readout, counts, _ = model(x)
    ref = simulate_float(model.export(), x)
    assert np.abs(readout.numpy() - ref.readout).max() < 1e-9
    assert np.array_equal(readout.numpy().argmax(2), ref.decisions)
    assert counts[:, 0].sum() == ref.spikes[0].sum() > 0


@pytest.mark.parametrize("clip", [None, 0.9])
def test_fake_quantisation_equals_golden_quantize(clip):
    """The QAT twin's integer parameters are golden.quantize's, also with a weight clip."""
    model = small_model(weight_clip=clip)
    for fmt in (Formats(), Formats(weight_bits=6, decay_bits=12, state_bits=20,
                                   rounding=Rounding.FLOOR)):
        net = quantize(model.export(), fmt, weight_clip=clip)
        saturated = sum(int((np.abs(l.w_in) == fmt.weight.max).sum()) for l in net.layers)
        assert (saturated > 3) == (clip is not None)     # a tenth of the weights saturate
        for layer, golden in zip(model.layers, net.layers):
            p = layer.integer_params(fmt, weight_clip=model.weight_clip)
            for name in ("w_in", "w_rec", "bias", "alpha", "rho", "b0", "adapt"):
                if p[name] is None:
                    assert getattr(golden, name) is None
                    continue
                got = p[name].detach().numpy()
                assert np.array_equal(got, np.round(got)), name
                assert np.array_equal(got.astype(np.int64), getattr(golden, name)), name
            assert float(p["scale"]) == pytest.approx(golden.scale, rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_fake_quantisation_equals_golden_on_random_layers(seed):
    """Random layers and formats (guard bits, rounding, widths): the QAT parameters are the
    golden quantiser's, bit for bit; a bias the state format cannot hold is the same error."""
    from spikeforge.golden.reference import QuantizeError
    rng = np.random.default_rng(seed)
    model = small_model(seed=seed, kind=(NeuronKind.ALIF, NeuronKind.LIF)[seed % 2])
    with torch.no_grad():
        for layer in model.layers:
            layer.bias.copy_(torch.as_tensor(rng.normal(0, 0.3, layer.size)))
            layer.w_in.mul_(float(rng.uniform(0.2, 3.0)))
    fmt = Formats(weight_bits=int(rng.integers(4, 12)), state_bits=int(rng.integers(16, 26)),
                  decay_bits=int(rng.integers(8, 17)), guard_bits=int(rng.integers(0, 7)),
                  rounding=list(Rounding)[seed % 4])
    net = quantize(model.export(), fmt)
    for layer, golden in zip(model.layers, net.layers):
        p = layer.integer_params(fmt)
        for name in ("w_in", "bias", "alpha", "rho", "b0", "adapt"):
            assert np.array_equal(p[name].detach().numpy().astype(np.int64),
                                  getattr(golden, name)), name
        assert float(p["scale"]) == pytest.approx(golden.scale, rel=1e-12)
    with torch.no_grad():
        model.layers[0].bias[0] = 1e9        # far more state LSBs than 24 bits hold
    with pytest.raises(QuantizeError, match="bias needs") as golden_error:
        quantize(model.export(), Formats())
    with pytest.raises(QuantizeError, match="bias needs") as twin_error:
        model.layers[0].integer_params(Formats(), "layer 0 (hidden0)")
    assert str(twin_error.value).split(":", 1)[1] == str(golden_error.value).split(":", 1)[1]


def test_integer_twin_equals_golden_simulate_bit_for_bit():
    model = small_model()
    fmt = Formats()
    net = quantize(model.export(), fmt)
    x = random_events(5, 6, 80, 4, rate=0.4, values=(1, -1))
    golden = simulate(net, x)
    with torch.no_grad():
        readout, counts, _ = model(x, quant=fmt)
    raw = readout.numpy() / net.readout.scale
    assert np.abs(raw - golden.readout).max() < 1e-6
    assert np.array_equal(counts.numpy().astype(np.int64)[:, :2], golden.layer_spikes[:, :2])
    assert golden.layer_spikes.sum() > 0


def test_integer_twin_has_gradients():
    model = small_model()
    x = random_events(6, 3, 20, 4, rate=0.5)
    readout, _, _ = model(x, quant=Formats())
    readout.sum().backward()
    for name, p in model.named_parameters():
        if p.requires_grad and "tau_adp" not in name:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.layers[0].w_in.grad.abs().sum() > 0


def tiny_recipe():
    return Recipe(name="tiny", n_inputs=4,
                  layers=[LayerSpec(10, NeuronKind.ALIF, b0=0.05),
                          LayerSpec(2, NeuronKind.LI, recurrent=False, tau_m=(5.0, 1.0))],
                  decision=Decision.LAST, lr=2e-2, lr_final=2e-2, batch=16, epochs=8,
                  qat_epochs=2, qat_lr=5e-3)


def tiny_data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 64)
    rate = np.where(y[:, None, None] == 1, 0.5, 0.1)
    x = (rng.random((64, 12, 4)) < rate).astype(np.int64)
    x[:, :, 2:] = (rng.random((64, 12, 2)) < 0.3)
    return x, y


def test_tiny_training_improves_loss_deterministically(tmp_path):
    x, y = tiny_data()
    runs = []
    for _ in range(2):
        trainer = Trainer(tiny_recipe(), seed=7, progress=False, checkpoint=tmp_path / "t.ckpt")
        runs.append([h["loss"] for h in trainer.fit(x, y)])
    assert runs[0] == runs[1]
    assert runs[0][7] < 0.8 * runs[0][0]
    assert len(runs[0]) == 10
    # resuming from the checkpoint after the last epoch trains nothing more
    resumed = Trainer(tiny_recipe(), seed=7, progress=False)
    resumed.load_checkpoint(tmp_path / "t.ckpt")
    assert resumed.epoch == 10 and len(resumed.fit(x, y)) == 10
    net = quantize(resumed.model.export())
    with torch.no_grad():
        readout, _, _ = resumed.model(x, quant=Formats())
    assert np.array_equal(readout.numpy()[:, -1].argmax(1), simulate(net, x).decisions)


def test_validation_keeps_the_best_epoch_and_checkpoints_it(tmp_path):
    """Every epoch is measured on the held-out samples in fixed point; the best one's
    parameters are kept (also across a checkpoint) and ``use_best`` loads them."""
    x, y = tiny_data()
    recipe = tiny_recipe().replace(validation=0.25, keep="best")
    trainer = Trainer(recipe, seed=7, progress=False, checkpoint=tmp_path / "t.ckpt")
    history = trainer.fit(x[:48], y[:48], x[48:], y[48:])
    scores = [h["valid_fixed_accuracy"] for h in history]
    assert len(scores) == 10 and trainer.best["score"] == max(scores)
    assert trainer.best["epoch"] == len(scores) - scores[::-1].index(max(scores))   # the last tie
    resumed = Trainer(recipe, seed=7, progress=False)
    resumed.load_checkpoint(tmp_path / "t.ckpt")
    assert resumed.best["epoch"] == trainer.best["epoch"]
    resumed.use_best()
    from spikeforge.train.trainer import evaluate_float
    assert evaluate_float(resumed.model, x[48:], y[48:], quant=recipe.formats) == max(scores)
    with pytest.raises(ValueError, match="keep 'best' needs a validation"):
        tiny_recipe().replace(keep="best")
    with pytest.raises(ValueError, match="keep 'first'"):
        tiny_recipe().replace(keep="first")
    with pytest.raises(ValueError, match="rate_target"):
        tiny_recipe().replace(rate_target=1.5)


def test_rate_penalty_counts_only_the_rate_above_the_target():
    trainer = Trainer(tiny_recipe().replace(rate_penalty=1.0), seed=7, progress=False)
    counts = torch.tensor([[30.0, 4.0], [10.0, 0.0]])   # (samples, layers): spikes in 10 steps
    # layer 0 (10 neurons) fires at 0.2 per neuron per step, the LI readout is not counted
    assert float(trainer._rate(counts, 10)) == pytest.approx(0.2)
    trainer.recipe = trainer.recipe.replace(rate_target=0.05)
    assert float(trainer._rate(counts, 10)) == pytest.approx(0.15)
    trainer.recipe = trainer.recipe.replace(rate_target=0.5)
    assert float(trainer._rate(counts, 10)) == 0.0


def test_chunked_bptt_carries_state():
    x, y = tiny_data()
    model = small_model()
    with torch.no_grad():
        whole, _, _ = model(x)
        a, _, state = model(x[:, :5])
        b, _, _ = model(x[:, 5:], state)
    assert torch.allclose(torch.cat([a, b], 1), whole)


def test_recipes_are_consistent():
    assert RECIPES["digits"].layers[-1].kind is NeuronKind.LI
    ecg = RECIPES["ecg"]      # the reference code's: LIF hidden, spiking ALIF readout
    assert [l.kind for l in ecg.layers] == [NeuronKind.LIF, NeuronKind.ALIF]
    assert ecg.skip_steps == 10 and ecg.n_inputs == 4
    assert [l.size for l in ecg.layers] == [36, 6]


# -- the train command --

def test_train_command_digits_writes_network_and_test_set(tmp_path, capsys):
    from spikeforge.golden import Network
    from spikeforge.golden.inputs import load_inputs
    from spikeforge.train.cli import main
    out = tmp_path / "net.npz"
    assert main(["digits", "-o", str(out), "--epochs", "1", "--qat-epochs", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    net = Network.load(out)
    x, y = load_inputs(tmp_path / "net.test.npz")
    assert x.shape == (449, 5, 192) and y.shape == (449,)
    assert net.summary() == "192 -> 128 rec alif -> 10 li"
    assert (tmp_path / "net.ckpt").is_file()
    from spikeforge.golden import accuracy
    assert accuracy(net, simulate(net, x).decisions, y) == pytest.approx(report["fixed_accuracy"])
    assert report["fixed_accuracy"] > 0.3


def test_train_command_without_validation_keeps_the_last_epoch(tmp_path, capsys):
    # the digits recipe keeps the best validation epoch; --validation 0 alone means the last
    from spikeforge.train.cli import main
    assert main(["digits", "-o", str(tmp_path / "n.npz"), "--epochs", "1", "--qat-epochs", "1",
                 "--validation", "0", "--hidden", "16", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["validation_samples"] == 0 and report["keep"] == "last"
    assert report["kept_epoch"] == 2
    assert report["hidden"] == 16 and report["summary"] == "192 -> 16 rec alif -> 10 li"


def test_train_command_validates_and_keeps_the_best_epoch(tmp_path, capsys):
    from spikeforge.train.cli import main
    out = tmp_path / "net.npz"
    assert main(["digits", "-o", str(out), "--epochs", "2", "--qat-epochs", "1", "--keep", "best",
                 "--rate-penalty", "0.5", "--rate-target", "0.05", "--weight-clip", "0.999",
                 "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["weight_clip"] == 0.999
    assert report["validation_samples"] == 135 and report["keep"] == "best"
    assert 1 <= report["kept_epoch"] <= 3 and 0 < report["valid_fixed_accuracy"] <= 1
    assert report["rate_penalty"] == 0.5 and report["rate_target"] == 0.05
    for args, message in ((["--keep", "best", "--validation", "0"], "--validation/--keep"),
                          (["--validation", "1.5"], "--validation"),
                          (["--rate-target", "2"], "--rate-target"),
                          (["--weight-clip", "1.5"], "--weight-clip")):
        assert main(["digits", "-o", str(tmp_path / "n.npz"), *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("spikeforge: error: ") and message in err, err
    assert main(["digits-ttfs", "-o", str(tmp_path / "n.npz"), "--keep", "best"]) == 2
    assert "--keep: not used by digits-ttfs" in capsys.readouterr().err
    assert main(["digits-ttfs", "-o", str(tmp_path / "n.npz"), "--hidden", "8"]) == 2
    assert "--hidden: not used by digits-ttfs" in capsys.readouterr().err


def test_train_command_errors(tmp_path, capsys, monkeypatch):
    from spikeforge.train.cli import TORCH_MISSING, main
    assert main(["digits", "-o", str(tmp_path / "nodir" / "n.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["digits", "-o", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert main(["digits", "-o", str(tmp_path / "n.npz"), "--test-out", str(tmp_path / "n.npz")]) == 2
    assert "both the network and the test inputs" in capsys.readouterr().err
    assert main(["digits", "-o", str(tmp_path / "n.npz"), "--checkpoint", "/dev/null"]) == 2
    assert "not a regular file" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())      # nothing trained, nothing written
    assert main(["digits", "-o", str(tmp_path / "n.npz"), "--epochs", "-1"]) == 2
    assert "--epochs -1" in capsys.readouterr().err
    assert main(["digits", "-o", str(tmp_path / "n.npz"), "--hidden", "0"]) == 2
    assert "--hidden 0: must be >= 1" in capsys.readouterr().err
    assert main(["digits", "-o", str(tmp_path / "n.npz"), "--resume"]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert main(["ecg", "-o", str(tmp_path / "n.npz"), "--data", str(tmp_path)]) == 2
    assert "QTDB file not found" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "torch", None)
    assert main(["digits", "-o", str(tmp_path / "n.npz")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"spikeforge: error: {TORCH_MISSING}"


def test_add_train_parser_registers_the_command():
    import argparse
    from spikeforge.train.cli import add_train_parser, cmd_train
    parser = argparse.ArgumentParser(prog="spikeforge")
    sub = parser.add_subparsers(dest="command")
    add_train_parser(sub)
    args = parser.parse_args(["train", "ecg", "-o", "n.npz", "--epochs", "3", "--seed", "2",
                              "--qat-epochs", "0", "--test-out", "t.npz", "--json"])
    assert args.func is cmd_train and args.task == "ecg" and args.epochs == 3
    assert args.seed == 2 and args.qat_epochs == 0 and args.test_out == "t.npz" and args.json


# -- checkpoints are user input: loading one must not run code --

class _Payload:
    """Unpickling this runs code: it writes the file named in ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def test_checkpoint_with_pickled_code_is_refused_and_never_run(tmp_path, capsys):
    from spikeforge.train.cli import main
    marker = tmp_path / "pwned"
    trainer = Trainer(tiny_recipe(), seed=7, progress=False)
    ckpt = tmp_path / "n.ckpt"
    torch.save({"model": trainer.model.state_dict(), "epoch": 1, "seed": 7,
                "recipe": "digits", "history": _Payload(marker), "phase": "float",
                "optimizer": None}, ckpt)
    with pytest.raises(ValueError, match="only tensors and plain data"):
        trainer.load_checkpoint(ckpt)
    assert not marker.exists()
    assert main(["digits", "-o", str(tmp_path / "n.npz"), "--resume", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert not marker.exists()
    assert err.startswith("spikeforge: error: ") and "n.ckpt" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04garbage"])
def test_corrupt_checkpoint_is_a_clean_error(tmp_path, content):
    ckpt = tmp_path / "bad.ckpt"
    ckpt.write_bytes(content)
    with pytest.raises(ValueError, match="bad.ckpt"):
        Trainer(tiny_recipe(), seed=7, progress=False).load_checkpoint(ckpt)


def test_checkpoint_fields_are_validated(tmp_path):
    trainer = Trainer(tiny_recipe(), seed=7, progress=False)
    good = {"model": trainer.model.state_dict(), "epoch": 1, "seed": 7, "recipe": "tiny",
            "history": "[]", "phase": "float", "optimizer": None}
    for field, value, message in (("epoch", -1, "epoch"), ("phase", "warm", "phase"),
                                  ("history", "{", "history"), ("model", [1], "model"),
                                  ("best", {"epoch": 1}, "best"),
                                  ("best", {"epoch": 1, "score": 0.5, "state": [1]}, "best")):
        path = tmp_path / f"{field}.ckpt"
        torch.save({**good, field: value}, path)
        with pytest.raises(ValueError, match=message):
            trainer.load_checkpoint(path)
