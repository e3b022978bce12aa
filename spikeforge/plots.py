"""Pictures of what a network did: per sample, the input events, a spike raster per spiking
layer and the readout traces (``spikeforge simulate --plot DIR``).

matplotlib comes with the ``bench`` extra; without it ``plot_samples`` raises
``PlotError`` saying so. Each PNG is written whole or not at all (a temporary file renamed
into place).
"""

from __future__ import annotations

import os

import numpy as np

from .golden.network import Network, NeuronKind
from .golden.simulate import Result
from .golden.theta import unpack_state

__all__ = ["PlotError", "plot_samples"]


class PlotError(Exception):
    """Plots cannot be drawn (matplotlib missing); the message says what to install."""


def plot_samples(network: Network, x, result: Result, samples, folder) -> list[str]:
    """One PNG per sample index in ``samples``: inputs, each spiking layer's raster, the
    readout. Returns the files written (``folder``/sample-N.png)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotError("plots need matplotlib: pip install 'spikeforge[bench]'") from None
    os.makedirs(folder, exist_ok=True)
    x = np.asarray(x)
    spiking = [(i, l) for i, l in enumerate(network.layers) if l.kind.spiking]
    theta = network.layers[-1].kind is NeuronKind.THETA
    written = []
    for n in samples:
        rows = 2 + len(spiking)
        fig, axes = plt.subplots(rows, 1, figsize=(7, 1.6 * rows + 0.6), sharex=True)
        steps = x.shape[1]
        t, ch = np.nonzero(x[n])
        axes[0].scatter(t, ch, s=4, c=np.where(x[n][t, ch] > 0, "C0", "C3"), marker="|")
        axes[0].set_ylabel("input\nchannel", fontsize=8)
        for ax, (k, (i, layer)) in zip(axes[1:], enumerate(spiking)):
            t, neuron = np.nonzero(result.spikes[k][n])
            ax.scatter(t, neuron, s=4, c="k", marker="|")
            ax.set_ylim(-0.5, layer.size - 0.5)
            ax.set_ylabel(f"layer {i}\n{layer.kind.value}", fontsize=8)
        if theta:   # the packed theta state's p (``golden.theta.pack_state``)
            readout = unpack_state(result.readout[n], network.formats.state_bits)[0]
        else:
            readout = result.readout[n] * network.layers[-1].scale
        axes[-1].plot(np.arange(steps), readout, linewidth=0.8)
        axes[-1].set_ylabel("readout", fontsize=8)
        axes[-1].set_xlabel("step")
        decision = result.decisions[n]
        shown = decision if np.ndim(decision) == 0 else decision[-1]
        fig.suptitle(f"{network.name}: sample {n} (decision {int(shown)})", fontsize=9)
        fig.tight_layout()
        path = os.path.join(os.fspath(folder), f"sample-{n}.png")
        tmp = path + ".tmp.png"
        try:
            fig.savefig(tmp, dpi=110)
            os.replace(tmp, path)
        finally:
            plt.close(fig)
            if os.path.exists(tmp):
                os.unlink(tmp)
        written.append(path)
    return written
