"""The theta trainer: exact spike-time gradients, pseudospikes, the continuous model against
closed forms and the discrete float model, the digits-ttfs / mnist-ttfs commands."""

import gzip
import json

import numpy as np
import pytest

from conftest import require_extra  # noqa: E402

torch = require_extra("torch", "train")

from spikeforge.golden import Network, quantize, simulate, simulate_float  # noqa: E402
from spikeforge.golden.inputs import load_inputs  # noqa: E402
from spikeforge.golden.reference import FloatNetwork  # noqa: E402
from spikeforge.golden.theta import pulse_float  # noqa: E402
from spikeforge.train.theta import (THETA_RECIPES, AdaBelief, ThetaNet, ThetaNeuron,  # noqa: E402
                                    ThetaTrainer, discrete_figures, exact_trial, flip_ttfs,
                                    ttfs_loss)

torch.set_num_threads(1)
NEURON = ThetaNeuron()        # tau = 6 / pi, I0 = 5/4: r = 1, Theta = 6
THETA = NEURON.period


def ttfs_events(seed, samples, steps, channels, *, rate=0.7, last_tick=None):
    """Binary events, at most one per channel, at ticks below ``last_tick``."""
    rng = np.random.default_rng(seed)
    x = np.zeros((samples, steps, channels), np.int64)
    last = steps if last_tick is None else last_tick
    for b in range(samples):
        for c in range(channels):
            if rng.random() < rate:
                x[b, rng.integers(0, last), c] = 1
    return x


def spiking_net(seed=3, sizes=(8, 3), n_in=6, w_scale=6.0):
    net = ThetaNet(n_in, list(sizes), NEURON, seed=seed, w_scale=w_scale)
    with torch.no_grad():
        gen = torch.Generator().manual_seed(seed)
        for phi0 in net.phi0:
            phi0.uniform_(2.5, 5.5, generator=gen)
    return net


def test_pulse_is_the_golden_pulse_map():
    rng = np.random.default_rng(0)
    phi = rng.uniform(0.01, THETA - 0.01, 500)
    w = rng.normal(0, 2, 500)
    got = NEURON.pulse(torch.as_tensor(phi), torch.as_tensor(w)).numpy()
    assert np.abs(got - pulse_float(phi, w, NEURON.tau, NEURON.i0)).max() < 1e-12
    # pulses add: H(H(phi, a), b) = H(phi, a + b)
    twice = NEURON.pulse(torch.as_tensor(got), torch.as_tensor(-w / 3)).numpy()
    once = pulse_float(phi, w * 2 / 3, NEURON.tau, NEURON.i0)
    assert np.abs(twice - once).max() < 1e-9


def test_single_neuron_equals_the_closed_form():
    """One neuron, pulses at ticks 2 and 5: phase flows at rate 1, H at each pulse, a spike
    when it reaches Theta; with T > Theta the free neuron spikes again a period later."""
    tick, weights, phi0 = 0.25, [0.8, -0.5], 2.0
    net = ThetaNet(2, [1], NEURON)
    with torch.no_grad():
        net.weights[0].copy_(torch.tensor([[weights[0]], [weights[1]]], dtype=torch.float64))
        net.phi0[0].fill_(phi0)
    x = np.zeros((1, 40, 2), np.int64)
    x[0, 2, 0] = x[0, 5, 1] = 1
    trial = 9.5
    run = net.run(x, tick, trial)
    phi = pulse_float(phi0 + 2 * tick, weights[0], NEURON.tau, NEURON.i0) + 3 * tick
    phi = pulse_float(phi, weights[1], NEURON.tau, NEURON.i0)
    first = 5 * tick + THETA - phi
    assert run.first[0][0, 0].item() == pytest.approx(first, abs=1e-12)
    assert run.counts[0][0, 0].item() == 2        # first, and first + Theta < 9.5
    assert run.phi_end[0][0, 0].item() == pytest.approx(trial - first - THETA, abs=1e-12)
    # no spike before T: t_out is the pseudospike time T + Theta - H(phi_T, 0), where the
    # free flow would have spiked
    short = net.run(x, tick, first - 0.1)
    assert not bool(short.out_spiked.any())
    phi_t = phi + (first - 0.1 - 5 * tick)
    assert short.t_out[0, 0].item() == pytest.approx(first - 0.1 + THETA - phi_t, abs=1e-12)
    assert short.t_out[0, 0].item() == pytest.approx(first, abs=1e-12)


def test_gradients_equal_central_finite_differences():
    net = spiking_net()
    x = ttfs_events(0, 5, 16, 6, last_tick=8)
    tick, trial = 0.125, 2.0
    coef = torch.rand(5, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)

    def objective():
        run = net.run(x, tick, trial)
        hidden = torch.where(torch.isfinite(run.first[0]), run.first[0], 0.0).sum()
        return (run.t_out * coef).sum() + 0.3 * hidden, run

    loss, run = objective()
    spiked = run.out_spiked
    assert spiked.any() and not spiked.all()          # ordinary and pseudospike outputs
    assert int(run.counts[0].sum()) >= 5
    params = list(net.parameters())
    grads = torch.autograd.grad(loss, params)
    checked, h = 0, 1e-6
    for p, grad in zip(params, grads):
        flat, gflat = p.data.view(-1), grad.view(-1)
        for i in range(flat.numel()):
            old = flat[i].item()
            values = []
            for new in (old + h, old - h):
                flat[i] = new
                with torch.no_grad():
                    value, r = objective()
                values.append(value.item())
                same = all(torch.equal(a, b) for a, b in zip(r.counts, run.counts))
            flat[i] = old
            if not same:      # a spike appeared or vanished: not differentiable here
                continue
            fd = (values[0] - values[1]) / (2 * h)
            assert gflat[i].item() == pytest.approx(fd, rel=1e-4, abs=1e-6), (p.shape, i)
            checked += 1
    assert checked >= 75            # of 83 parameters
    assert sum(float(g.abs().sum()) for g in grads) > 1.0


def test_no_nan_gradients_at_the_ends_of_the_period():
    net = spiking_net(w_scale=40.0)
    with torch.no_grad():
        net.phi0[0][:3] = 0.0          # V = -inf: pulses do not move it
        net.phi0[0][3:5] = THETA       # V = +inf: spikes at t = 0
    x = ttfs_events(1, 8, 16, 6)
    run = net.run(x, 0.125, 2.0)
    loss = ttfs_loss(run.t_out, np.arange(8) % 3, 2.0, 0.01)
    loss.backward()
    for p in net.parameters():
        assert torch.isfinite(p.grad).all()
    assert torch.all(run.first[0][:, 3:5] == 0.0)


def test_pseudospike_gradient_makes_a_silent_output_spike():
    net = ThetaNet(6, [8, 2], NEURON, seed=2, w_scale=3.0)
    x = ttfs_events(2, 16, 8, 6, last_tick=1)
    tick, trial = 0.25, 2.0
    y = np.ones(16, np.int64)
    run = net.run(x, tick, trial)
    assert not bool(run.out_spiked[:, 1].any())        # output 1 silent on every sample
    assert bool((run.t_out[:, 1] > trial).all())
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(40):
        run = net.run(x, tick, trial)
        loss = ttfs_loss(run.t_out, y, trial, 0.01)
        opt.zero_grad()
        loss.backward()
        opt.step()
        net.clamp_()
        if bool(run.out_spiked[:, 1].all()):
            break
    run = net.run(x, tick, trial)
    assert bool(run.out_spiked[:, 1].all())
    assert bool((run.t_out[:, 1] < trial).all())


def test_one_layer_continuous_and_discrete_float_agree_to_rounding():
    """Inputs at tick starts reach a single layer at the same times in both models: the
    tick of each spike and the phase after it (= time since the spike) agree."""
    net = spiking_net(sizes=(12,))
    steps = 64
    fnet = net.export(steps, 2.0)
    tick, trial = exact_trial(NEURON, 2.0, steps)
    x = ttfs_events(3, 40, steps, 6, last_tick=20)
    with torch.no_grad():
        run = net.run(x, tick, trial)
    ref = simulate_float(fnet, x)
    first = run.first[0].numpy()
    spiked = ref.spikes[0].any(axis=1)
    assert np.array_equal(spiked, np.isfinite(first)) and spiked.sum() > 100
    k = np.argmax(ref.spikes[0], axis=1)
    rows, cols = np.nonzero(spiked)
    after = ref.readout[rows, k[rows, cols], cols]
    assert np.abs((k[rows, cols] + 1) * tick - after - first[rows, cols]).max() < 1e-9


def test_exported_network_agrees_with_the_continuous_model_for_a_fine_tick():
    """Deeper layers: the discrete model delivers a spike at the start of its tick, up to one
    tick early. With 512 ticks (tick 0.0039) the first spike times of every layer agree
    to within 3 ticks (median within half a tick; a spike's tick is timed at its middle),
    and decisions agree where an output spiked in both."""
    net = spiking_net(seed=4, sizes=(16, 12, 4), n_in=8, w_scale=5.0)
    steps = 512
    tick, trial = exact_trial(NEURON, 2.0, steps)
    x = ttfs_events(5, 60, steps, 8, last_tick=1)
    with torch.no_grad():
        run = net.run(x, tick, trial)
    ref = simulate_float(net.export(steps, 2.0), x)
    for l, (cont, disc) in enumerate(zip(run.first, ref.spikes)):
        cont = cont.numpy()
        spiked = disc.any(axis=1)
        both = spiked & np.isfinite(cont)
        assert (spiked != np.isfinite(cont)).mean() < 0.02, l
        t_disc = (np.argmax(disc, axis=1) + 0.5) * tick      # the middle of the spike's tick
        err = np.abs(t_disc - cont)[both]
        assert both.sum() > 50 and np.median(err) <= 0.5 * tick and err.max() < 3 * tick, l
    out = np.isfinite(run.first[-1].numpy()).any(1) & ref.spikes[-1].any(axis=(1, 2))
    assert out.sum() > 40
    agree = run.decisions().numpy()[out] == ref.decisions[out]
    assert agree.mean() >= 0.95


def test_tick_zero_alone_runs_as_the_whole_trial():
    """TTFS data stay as their tick 0 until a discrete model needs the trial (MNIST)."""
    from spikeforge.train.theta import measure_discrete, pad_ticks
    net = spiking_net(sizes=(8, 3))
    x = ttfs_events(8, 30, 16, 6, last_tick=1)
    tick, trial = exact_trial(NEURON, 2.0, 16)
    with torch.no_grad():
        assert torch.equal(net.run(x[:, :1], tick, trial).t_out, net.run(x, tick, trial).t_out)
    assert np.array_equal(pad_ticks(x[:, :1], 16), x)
    golden = quantize(net.export(16, 2.0))
    y = np.arange(30) % 3
    whole = discrete_figures(simulate(golden, x), y)
    chunked = measure_discrete(lambda xs: simulate(golden, xs), x[:, :1], y, 16, chunk=7)
    assert chunked["accuracy"] == pytest.approx(whole["accuracy"])
    assert chunked["spikes_per_neuron"] == pytest.approx(whole["spikes_per_neuron"])
    assert chunked["synaptic_ops_per_sample"] == pytest.approx(simulate(golden, x).synops.mean())


def test_flips_swap_spiking_and_silent_channels():
    x = ttfs_events(6, 200, 4, 50, rate=0.5, last_tick=1)
    flipped = flip_ttfs(x, 0.1, np.random.default_rng(0))
    changed = x.any(axis=1) != flipped.any(axis=1)
    assert 0.07 < changed.mean() < 0.13
    assert np.array_equal(flipped[:, 1:], np.zeros_like(flipped[:, 1:]))
    assert np.array_equal(flip_ttfs(x, 0.0, np.random.default_rng(0)), x)


def test_shifts_move_images_by_one_pixel():
    from spikeforge.train.theta import SHIFTS, shift_ttfs
    x = np.zeros((400, 2, 16), np.int64)
    x[:, 0, 5] = 1                                  # pixel (1, 1) of a 4x4 image
    moved = shift_ttfs(x, (4, 4), np.random.default_rng(0))
    where = {int(np.flatnonzero(m[0])[0]) for m in moved}
    assert where == {5 + 4 * dy + dx for dy, dx in SHIFTS}
    edge = np.zeros((50, 1, 16), np.int64)
    edge[:, 0, 0] = 1                               # the corner falls off for two moves
    assert 0 < shift_ttfs(edge, (4, 4), np.random.default_rng(1)).sum() < 50


def test_adabelief_first_step_is_a_signed_lr_step():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = AdaBelief([p], lr=0.1)
    p.grad = torch.tensor([3.0, -0.5], dtype=torch.float64)
    opt.step()
    # m_hat = g, s_hat = (g - 0.1 g)^2 + eps / (1 - b2): update = g / (0.9 |g|)
    assert torch.allclose(p.detach(), torch.tensor([1.0 - 0.1 / 0.9, -2.0 + 0.1 / 0.9],
                                                    dtype=torch.float64), atol=1e-9)


def tiny_theta_recipe(**changes):
    base = THETA_RECIPES["digits-ttfs"].replace(name="tiny-theta", n_inputs=6, hidden=(8,),
                                                n_outputs=2, steps=16, batch=8, epochs=3,
                                                w_scale=3.0, lr=2e-2, qat_epochs=0)
    return base.replace(**changes)


def tiny_theta_data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 48)
    x = np.zeros((48, 16, 6), np.int64)
    on = rng.random((48, 6)) < np.where(y[:, None] == 1, [0.9, 0.9, 0.9, 0.1, 0.1, 0.5],
                                        [0.1, 0.1, 0.1, 0.9, 0.9, 0.5])
    x[:, 0] = on
    return x, y


def test_tiny_theta_training_is_deterministic_and_resumes(tmp_path):
    x, y = tiny_theta_data()
    runs = []
    for _ in range(2):
        trainer = ThetaTrainer(tiny_theta_recipe(), seed=3, progress=False,
                               checkpoint=tmp_path / "t.ckpt")
        runs.append([h["loss"] for h in trainer.fit(x[:40], y[:40], x[40:], y[40:])])
    assert runs[0] == runs[1] and runs[0][-1] < runs[0][0]
    assert trainer.best is not None and 1 <= trainer.best["epoch"] <= 3
    # two epochs, a checkpoint, one more: the same as three in one go
    part = ThetaTrainer(tiny_theta_recipe(), seed=3, progress=False, checkpoint=tmp_path / "p.ckpt")
    part.fit(x[:40], y[:40], x[40:], y[40:], epochs=2)
    resumed = ThetaTrainer(tiny_theta_recipe(), seed=3, progress=False)
    resumed.load_checkpoint(tmp_path / "p.ckpt")
    assert resumed.epoch == 2
    assert [h["loss"] for h in resumed.fit(x[:40], y[:40], x[40:], y[40:])] == runs[0]
    with pytest.raises(ValueError, match="checkpoint of recipe 'tiny-theta', not 'other'"):
        ThetaTrainer(tiny_theta_recipe(name="other"), progress=False).load_checkpoint(
            tmp_path / "p.ckpt")


def test_fake_quantisation_is_golden_quantize_and_qat_trains_on_it(tmp_path):
    import dataclasses
    from spikeforge.golden.reference import THETA_FORMATS
    from spikeforge.train.theta import fake_quantize
    net = spiking_net()
    for fmt in (THETA_FORMATS, dataclasses.replace(THETA_FORMATS, weight_bits=5)):
        golden = quantize(net.export(32, 2.0), fmt)
        for w, layer in zip(net.weights, golden.layers):
            grid = fake_quantize(w, NEURON.r, fmt).detach().numpy() / layer.scale
            assert np.array_equal(grid, np.round(grid)) and np.array_equal(grid, layer.w_in)
    # QAT epochs: runs use the golden weights, the gradient passes straight through
    x, y = tiny_theta_data()
    recipe = tiny_theta_recipe(epochs=1, qat_epochs=2,
                               formats=dataclasses.replace(THETA_FORMATS, weight_bits=4))
    trainer = ThetaTrainer(recipe, seed=1, progress=False, checkpoint=tmp_path / "q.ckpt")
    history = trainer.fit(x[:40], y[:40], x[40:], y[40:])
    assert [h["phase"] for h in history] == ["float", "qat", "qat"]
    assert trainer.model.quant is recipe.formats
    fnet = trainer.model.export(16, 2.0)
    golden = quantize(fnet, recipe.formats)
    tick, trial = exact_trial(NEURON, 2.0, 16)
    with torch.no_grad():
        run = trainer.model.run(x, tick, trial)
    ref = simulate(golden, x)
    first = run.first[0].numpy()
    spiked = ref.spikes[0].any(axis=1)
    assert (spiked == np.isfinite(first)).mean() > 0.98 and spiked.sum() > 50
    resumed = ThetaTrainer(recipe, seed=1, progress=False)
    resumed.load_checkpoint(tmp_path / "q.ckpt")
    assert resumed.model.quant is recipe.formats
    # stopping after the float epochs and resuming into QAT changes nothing
    first = ThetaTrainer(recipe.replace(qat_epochs=0), seed=1, progress=False,
                         checkpoint=tmp_path / "f.ckpt")
    first.fit(x[:40], y[:40], x[40:], y[40:])
    second = ThetaTrainer(recipe, seed=1, progress=False)
    second.load_checkpoint(tmp_path / "f.ckpt")
    assert [h["loss"] for h in second.fit(x[:40], y[:40], x[40:], y[40:])] == \
        [h["loss"] for h in history]
    assert all(torch.equal(a, b) for a, b in zip(second.model.parameters(),
                                                 trainer.model.parameters()))


def test_from_float_round_trip():
    net = spiking_net()
    fnet = net.export(32, 2.0)
    again = ThetaNet.from_float(fnet)
    x = ttfs_events(7, 6, 32, 6)
    tick, trial = exact_trial(NEURON, 2.0, 32)
    assert fnet.theta.tick == pytest.approx(tick, rel=1e-15)
    with torch.no_grad():
        a, b = net.run(x, tick, trial), again.run(x, tick, trial)
    assert torch.equal(a.t_out, b.t_out)


# -- the commands --

def test_train_digits_ttfs_writes_network_float_twin_and_test_set(tmp_path, capsys):
    from spikeforge.train.cli import main
    out = tmp_path / "dt.npz"
    assert main(["digits-ttfs", "-o", str(out), "--epochs", "1", "--qat-epochs", "1",
                 "--steps", "16", "--json", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    net = Network.load(out)
    fnet = FloatNetwork.load(tmp_path / "dt.float.npz")
    x, y = load_inputs(tmp_path / "dt.test.npz")
    assert x.shape == (449, 16, 64) and y.shape == (449,)
    assert set(np.unique(x[:, 1:])) == {0} and set(np.unique(x[:, 0])) == {0, 1}
    assert net.summary() == "64 -> 100 theta -> 100 theta -> 10 theta"
    assert net.theta.steps == 16 and fnet.theta.steps == 16
    assert report["trial"] == pytest.approx(2.0, rel=1e-3)
    # the float twin re-quantises to the very network written
    again = quantize(fnet, net.formats)
    for a, b in zip(again.layers, net.layers):
        assert np.array_equal(a.w_in, b.w_in) and np.array_equal(a.p0, b.p0)
    result = simulate(net, x)
    assert np.mean(result.decisions == y) == pytest.approx(report["fixed_accuracy"])
    assert np.mean(simulate_float(fnet, x).decisions == y) == pytest.approx(report["float_accuracy"])
    assert report["kept_epoch"] == 2 and report["valid_samples"] == 202
    assert (tmp_path / "dt.ckpt").is_file()


def write_idx(path, array, code):
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(n).to_bytes(4, "big")
                                                         for n in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(array.dtype.newbyteorder(">")).tobytes()))


def mnist_files(tmp_path, n=30, labels=None):
    rng = np.random.default_rng(0)
    images = (rng.random((n, 28, 28)) * 255).astype(np.uint8)
    write_idx(tmp_path / "img.gz", images, 0x08)
    write_idx(tmp_path / "lab.gz", rng.integers(0, 10, n if labels is None else labels)
              .astype(np.uint8), 0x08)
    return str(tmp_path / "img.gz"), str(tmp_path / "lab.gz")


def test_train_mnist_ttfs_on_small_idx_files(tmp_path, capsys):
    from spikeforge.train.cli import main
    images, labels = mnist_files(tmp_path)
    out = tmp_path / "m.npz"
    assert main(["mnist-ttfs", "--images", images, "--labels", labels, "-o", str(out),
                 "--epochs", "1", "--steps", "8", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert Network.load(out).summary() == "784 -> 100 theta -> 100 theta -> 10 theta"
    x, y = load_inputs(tmp_path / "m.test.npz")
    assert x.shape == (5, 8, 784) and report["test_samples"] == 5
    # pixel >= 128 spikes at t = 0
    raw = np.frombuffer(gzip.decompress((tmp_path / "img.gz").read_bytes())[16:], np.uint8)
    assert x[:, 0].mean() == pytest.approx((raw >= 128).mean(), abs=0.02)
    assert main(["mnist-ttfs", "--images", images, "--labels", labels, "--test-images", images,
                 "--test-labels", labels, "-o", str(out), "--epochs", "1", "--steps", "8",
                 "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["test_samples"] == 30


@pytest.mark.parametrize("args,message", [
    (["mnist-ttfs"], "give the training IDX files with --images and --labels"),
    (["mnist-ttfs", "--images", "{tmp}/none.gz", "--labels", "{tmp}/lab.gz"], "none.gz: no such file"),
    (["mnist-ttfs", "--images", "{img}", "--labels", "{short}"], "29 labels for 30 images"),
    (["mnist-ttfs", "--images", "{img}", "--labels", "{lab}", "--test-images", "{img}"],
     "give both or neither"),
    (["digits-ttfs", "--steps", "0"], "--steps 0: must be an integer in 3..1024"),
    (["digits-ttfs", "--steps", "5000"], "--steps 5000"),
    (["digits-ttfs", "--epochs", "-2"], "--epochs -2"),
    (["digits-ttfs", "--images", "{img}"], "only for mnist-ttfs"),
    (["digits-ttfs", "--qat-epochs", "-3"], "--qat-epochs -3"),
    (["digits-ttfs", "--data", "somewhere"], "--data: not used by digits-ttfs"),
    (["digits-ttfs", "--weight-bits", "40"], "--weight-bits"),
    (["digits-ttfs", "--resume"], "--resume: no checkpoint"),
    (["digits", "--steps", "16"], "--steps: only for the theta tasks"),
])
def test_theta_command_errors_are_one_line(tmp_path, capsys, args, message):
    from spikeforge.train.cli import main
    img, lab = mnist_files(tmp_path)
    short = tmp_path / "short.gz"
    write_idx(short, np.zeros(29, np.uint8), 0x08)
    args = [a.format(tmp=tmp_path, img=img, lab=lab, short=short) for a in args]
    assert main(args + ["-o", str(tmp_path / "n.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spikeforge: error: ") and len(err.strip().splitlines()) == 1
    assert message in err
    assert not (tmp_path / "n.npz").exists()


# -- the shipped network --

#: Stated test accuracies of builtin:digits-ttfs (docs/theta.md), golden fixed point: with
#: the no-spike rule, and counting samples without an output spike as wrong.
BUILTIN_FIXED_ACCURACY = 0.955
BUILTIN_ORDINARY_ACCURACY = 0.944


def test_builtin_digits_ttfs_reaches_its_stated_accuracy():
    from importlib import resources
    from spikeforge import builtin
    from spikeforge.train.data import load_digits_ttfs
    net = builtin.load("digits-ttfs")
    assert net.summary() == "64 -> 100 theta -> 100 theta -> 10 theta"
    assert net.formats.weight_bits == 8 and net.formats.state_bits == 16
    x, y = load_digits_ttfs("test", net.theta.steps)
    result = simulate(net, x)
    correct = result.decisions == y
    assert correct.mean() >= BUILTIN_FIXED_ACCURACY
    assert (correct & result.spikes[-1].any(axis=(1, 2))).mean() >= BUILTIN_ORDINARY_ACCURACY
    # its float twin (not a builtin network itself) re-quantises to it, within a point
    with resources.as_file(resources.files("spikeforge") / "networks" / "float" /
                           "digits-ttfs.npz") as path:
        fnet = FloatNetwork.load(path)
    for a, b in zip(quantize(fnet, net.formats).layers, net.layers):
        assert np.array_equal(a.w_in, b.w_in) and np.array_equal(a.p0, b.p0) and \
            np.array_equal(a.q0, b.q0) and a.weight_shift == b.weight_shift
    assert abs(np.mean(simulate_float(fnet, x).decisions == y) - correct.mean()) <= 0.01
    assert "digits-ttfs.float" not in builtin.names()


def test_recipe_exploration_logs_validation_figures(tmp_path, capsys):
    from spikeforge.train.theta_explore import main
    assert main([str(tmp_path / "e"), "--epochs", "1", "--hidden", "12", "--steps", "8"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["epoch"] == 1 and {"v", "vo", "vq", "vqo", "spk"} <= set(lines[0])
    assert "total_seconds" in lines[-1]
    assert FloatNetwork.load(tmp_path / "e.float.npz").theta.steps == 8
