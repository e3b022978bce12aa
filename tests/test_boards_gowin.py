"""The Tang Nano 9K (Gowin GW1NR-9) through yosys, nextpnr-himbaechel and gowin_pack."""

import json

import pytest

from conftest import build_small_network, require_extra
from spikeforge.golden.randnet import random_network
from spikeforge.hdl.config import HardwareConfig


def _plan(clock_divide=1):
    """The build plan ``build_bitstream`` would run (same options), without running it."""
    from spikeforge.boards.build import NAME
    from spikeforge.boards.targets import board
    from spikeforge.boards.top import BoardTop
    b = board("tangnano9k")
    top = BoardTop(random_network(2, 4, (8,), 3), HardwareConfig(lanes=1), clk_hz=b.clk_hz,
                   baud=115200, clock_divide=clock_divide)
    plan = b.platform().prepare(top, name=NAME,
                                nextpnr_opts=f"--report {NAME}.report.json --timing-allow-fail")
    return {name: (text if isinstance(text, str) else text.decode())
            for name, text in plan.files.items()}


def test_tangnano9k_script_runs_himbaechel_and_gowin_pack_for_the_gw1nr9():
    require_extra("amaranth_boards")
    from spikeforge.boards.targets import TOOLS, board
    files = _plan()
    commands = [line.split() for line in files["build_spikeforge.sh"].splitlines()
                if line.startswith('"$')]
    assert [c[0] for c in commands] == ['"$YOSYS"', '"$NEXTPNR_HIMBAECHEL"', '"$GOWIN_PACK"']
    pnr, pack = " ".join(commands[1]), " ".join(commands[2])
    for option in ("--device GW1NR-LV9QN88PC6/I5", "--vopt family=GW1N-9C",
                   "--vopt cst=spikeforge.cst", "--sdc spikeforge.sdc", "--freq 27.0",
                   "--report spikeforge.report.json", "--timing-allow-fail",
                   "--json spikeforge.syn.json", "--write spikeforge.pnr.json"):
        assert option in pnr, option
    assert pack.startswith('"$GOWIN_PACK" -d GW1N-9C -o spikeforge.fs')
    assert pack.endswith("spikeforge.pnr.json")
    # no LUT RAM (a RAM16SDP4 takes 8 LUT positions for 64 bits); JSON for nextpnr
    assert "synth_gowin -nolutram -top spikeforge -json spikeforge.syn.json" in files["spikeforge.ys"]
    # the pins BoardTop asks for: the BL702 bridge's UART, two LEDs, the 27 MHz clock
    cst = files["spikeforge.cst"]
    for pin in ('"clk27_0__io" 52', '"uart_0__rx__io" 18', '"uart_0__tx__io" 17',
                '"led_0__io" 10', '"led_1__io" 11'):
        assert f"IO_LOC {pin};" in cst, pin
    assert set(TOOLS["gowin"]) == set(board("tangnano9k").platform().required_tools)


def test_a_divided_clock_is_constrained_in_the_sdc():
    require_extra("amaranth_boards")
    sdc = _plan(clock_divide=2)["spikeforge.sdc"]
    assert "create_clock -period 74.07407407407408 [get_nets {slow}]" in sdc
    assert "create_clock" not in _plan()["spikeforge.sdc"]     # --freq covers the board clock


def test_gowin_report_counts_lut_positions_and_dsp_in_18x18_multipliers(tmp_path):
    from spikeforge.boards.build import parse_reports
    use = {"LUT4": (2607, 8640), "ALU": (978, 6480), "DFF": (1352, 6480), "BSRAM": (2, 26),
           "MULT18X18": (3, 20), "MULT9X9": (5, 40), "MULT36X36": (0, 5), "RAM16SDP4": (7, 270)}
    report = {"utilization": {k: {"used": u, "available": a} for k, (u, a) in use.items()},
              "fmax": {"cd_sync.clk": {"achieved": 48.4519, "constraint": 27}}}
    (tmp_path / "spikeforge.report.json").write_text(json.dumps(report))
    resources, fmax = parse_reports(tmp_path, "gowin")
    assert resources["lut"] == {"used": 2607 + 978 + 4 * 7, "available": 8640}
    assert resources["dsp"] == {"used": 3 + 3, "available": 20}
    assert resources["bram"] == {"used": 2, "available": 26}
    assert resources["lutram"]["used"] == 7 and "mult9" not in resources
    assert fmax == 48.45


@pytest.mark.slow
def test_tangnano9k_bitstream_builds_and_reports(tmp_path):
    result = build_small_network("tangnano9k", tmp_path / "build")
    # gowin_pack writes the bitstream as text, one character per bit
    assert result.bitstream.name == "spikeforge.fs" and result.bitstream.stat().st_size > 1_000_000
    res = result.resources
    assert 0 < res["lut"]["used"] <= res["lut"]["available"] == 8640
    assert 0 < res["ff"]["used"] <= res["ff"]["available"] == 6480
    assert 0 < res["bram"]["used"] <= res["bram"]["available"] == 26
    # the estimate counts every memory over 3 deep as BSRAM; Yosys makes some flip-flops
    assert 0 <= result.estimate_bram - res["bram"]["used"] <= 4, (res["bram"], result.estimate_bram)
    assert res["dsp"]["available"] == 20
    assert result.fmax_mhz is not None and 5 < result.fmax_mhz < 300
    assert result.clock_mhz == 27.0
    report = json.loads((tmp_path / "build" / "spikeforge.report.json").read_text())
    assert [v["constraint"] for v in report["fmax"].values()] == [27]    # the board clock, not 12 MHz
