"""Planted RTL faults: the regression must kill every one (Amaranth's simulator here; two
of them in Verilator and Icarus too; benchmarks/bench_mutants.py runs all in all three)."""

import pytest

from conftest import require_simulator
from spikeforge.hdl import mutants
from spikeforge.sim.mutation import MUTANT_DESIGNS, kills

pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


def test_the_correct_designs_pass():
    assert kills(None, "pysim") == {name: [] for name in kills(None, "pysim")}


@pytest.mark.parametrize("mutant", sorted(set(mutants.MUTANTS) - mutants.FORMAL_ONLY))
def test_every_mutant_is_killed_in_pysim(mutant):
    result = kills(mutant, "pysim")
    assert any(result.values()), f"{mutant} survived: {mutants.MUTANTS[mutant]}"


@pytest.mark.slow
@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
@pytest.mark.parametrize("mutant", ["no_forwarding", "theta_no_reset"])
def test_mutants_are_killed_in_the_rtl_simulators(simulator, mutant):
    require_simulator(simulator)
    from spikeforge.sim.mutation import REGRESSION, _run
    for design in MUTANT_DESIGNS[mutant]:      # the correct design passes first
        assert _run(REGRESSION[design], simulator) == []
    assert any(kills(mutant, simulator).values()), mutant


def test_planted_refuses_unknown_names_and_is_inert_outside():
    with pytest.raises(ValueError, match="unknown mutant"):
        with mutants.planted("nothing"):
            pass
    with mutants.planted("lane_swap"):
        assert mutants.active("lane_swap") and not mutants.active("stuck_spike")
    assert not mutants.active("lane_swap")
