"""Formal proofs (SymbiYosys, every tool from PyPI wheels): each proof of ``sim.formal.PROOFS``
holds on the generated design, and fails with a named assertion once its planted mutant is in."""

import pytest

from conftest import skip_or_fail
from spikeforge.hdl import mutants
from spikeforge.sim.formal import MODES, PROOFS, FormalToolMissing, formal_tools, prove


@pytest.fixture(scope="module")
def tools():
    try:
        return formal_tools()
    except FormalToolMissing as exc:
        skip_or_fail(str(exc))


@pytest.mark.parametrize("name", sorted(PROOFS))
def test_proof_holds(tools, name):
    proof = PROOFS[name]
    result = prove(proof.make(), mode=proof.mode, depth=proof.depth, name=name)
    assert result.status == "PASS", str(result)


@pytest.mark.parametrize("name", sorted(PROOFS))
def test_proof_catches_its_mutant(tools, name):
    proof = PROOFS[name]
    with mutants.planted(proof.mutant):
        result = prove(proof.make(), mode=proof.mode, depth=proof.depth, name=name)
    assert result.status == "FAIL", str(result)
    # the failing assertion is named by its line in the harness
    assert result.failed and all("formal_harness.py:" in where for where in result.failed)


def test_every_formal_only_mutant_has_a_proof():
    assert mutants.FORMAL_ONLY <= {p.mutant for p in PROOFS.values()}
    assert {p.mode for p in PROOFS.values()} <= set(MODES)


def test_prove_refuses_bad_arguments():
    with pytest.raises(ValueError, match="mode must be one of"):
        prove(None, mode="cover", depth=3)
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        prove(None, mode="bmc", depth=0)
