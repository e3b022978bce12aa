"""Outputs are complete or absent: unwritable paths are refused before the work, a full disk
or an interrupt never leaves a partial file or destroys the previous one."""

import contextlib
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from spikeforge.cli import main
from spikeforge.golden.inputs import save_inputs
from spikeforge.golden.randnet import random_events, random_network


@pytest.fixture
def files(tmp_path):
    net = random_network(7, 4, (10,), 3)
    net.save(tmp_path / "net.npz")
    save_inputs(tmp_path / "in.npz", random_events(1, 3, 12, 4))
    return tmp_path


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def commands(tmp, out):
    net, inputs = str(tmp / "net.npz"), str(tmp / "in.npz")
    return {
        "simulate": ["simulate", net, "--input", inputs, "--output", out],
        "import": ["import", "--from", "nir", str(tmp / "g.nir"), "-o", out],
        "export": ["export", net, "--to", "nir", "-o", out],
        "compile": ["compile", net, "-o", out],
    }


@pytest.mark.parametrize("target", ["a directory", "missing parent", "file as parent", "/dev/full",
                                    "/proc"])
def test_unwritable_outputs_are_one_line_errors_before_any_work(files, capsys, target):
    (files / "adir").mkdir()
    main(["export", str(files / "net.npz"), "--to", "nir", "-o", str(files / "g.nir")])
    capsys.readouterr()
    out = {"a directory": str(files / "adir"), "missing parent": str(files / "no" / "x.npz"),
           "file as parent": str(files / "net.npz" / "x.npz"), "/dev/full": "/dev/full",
           "/proc": "/proc/spikeforge-x.npz"}[target]
    for name, argv in commands(files, out).items():
        if name == "compile" and target in ("a directory", "/dev/full"):
            continue     # compile writes a folder: a folder is its target; /dev/full below
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2, (name, target, err)
        assert err.startswith("spikeforge: error: ") and err.count("\n") == 1, (name, err)
        assert "Traceback" not in err
    assert leftovers(files) == []


def test_compile_refuses_a_folder_of_other_files_and_replaces_its_own(files, capsys):
    other = files / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    assert main(["compile", str(files / "net.npz"), "-o", str(other)]) == 2
    assert "not an earlier compile output" in capsys.readouterr().err
    assert (other / "notes.txt").read_text() == "keep me"
    out = files / "v"
    assert main(["compile", str(files / "net.npz"), "-o", str(out)]) == 0
    (out / "stale.hex").write_text("0\n")
    assert main(["compile", str(files / "net.npz"), "-o", str(out), "--lanes", "2"]) == 0
    assert not (out / "stale.hex").exists() and leftovers(files) == []


@contextlib.contextmanager
def small_disk(folder, size_kb=48):
    """A small tmpfs at ``folder`` (root), else the same effect by a file size limit."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], capture_output=True)


def run_cli(argv, *, fsize_limit=None, cwd=None):
    def limit():
        if fsize_limit:
            import resource
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_limit, fsize_limit))
    return subprocess.run([sys.executable, "-m", "spikeforge", *argv], capture_output=True,
                          text=True, preexec_fn=limit, cwd=cwd)


def test_a_full_disk_leaves_the_previous_outputs_as_they_were(tmp_path):
    big = random_network(3, 4, (200,), 10)
    big.save(tmp_path / "big.npz")
    save_inputs(tmp_path / "in.npz", random_events(2, 300, 30, 4))
    disk = tmp_path / "disk"
    with small_disk(disk) as mounted:
        previous = random_network(4, 2, (), 2)
        previous.save(disk / "out.npz")
        before = (disk / "out.npz").read_bytes()
        limit = None if mounted else 20_000
        argv = ["simulate", str(tmp_path / "big.npz"), "--input", str(tmp_path / "in.npz"),
                "--output", str(disk / "out.npz")]
        proc = run_cli(argv, fsize_limit=limit)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("spikeforge: error: ") and proc.stderr.count("\n") == 1
        assert (disk / "out.npz").read_bytes() == before and leftovers(disk) == []
        proc = run_cli(["compile", str(tmp_path / "big.npz"), "-o", str(disk / "v")],
                       fsize_limit=limit)
        assert proc.returncode == 2, proc.stderr
        assert not (disk / "v").exists() and leftovers(disk) == []


def test_sigint_during_a_simulation_writes_nothing_and_keeps_the_previous_file(tmp_path):
    net = random_network(5, 4, (256,), 10)
    net.save(tmp_path / "net.npz")
    save_inputs(tmp_path / "in.npz", random_events(3, 600, 600, 4))   # ~10 s of simulation
    (tmp_path / "out.npz").write_bytes(b"previous")
    proc = subprocess.Popen([sys.executable, "-m", "spikeforge", "simulate", str(tmp_path / "net.npz"),
                             "--input", str(tmp_path / "in.npz"), "--output",
                             str(tmp_path / "out.npz")], stderr=subprocess.PIPE, text=True,
                            # a pytest-xdist worker ignores SIGINT, and so would its children
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(3.0)          # well into the simulation (it takes longer than this)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip() == "spikeforge: error: interrupted"
    assert (tmp_path / "out.npz").read_bytes() == b"previous" and leftovers(tmp_path) == []


def test_an_interrupt_inside_the_write_leaves_no_partial_file(tmp_path, monkeypatch):
    from spikeforge.golden.files import atomic_write
    target = tmp_path / "x.npz"
    target.write_bytes(b"previous")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(target) as fh:
            fh.write(b"half of it")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"previous" and leftovers(tmp_path) == []
    with atomic_write(target) as fh:
        np.save(fh, np.arange(3))
    assert np.array_equal(np.load(target), np.arange(3))
