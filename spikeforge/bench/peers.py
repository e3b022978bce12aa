"""Figures published elsewhere, quoted beside spikeforge's own (never measured here), and the
per-operation energies the energy proxy uses. Every entry names its source."""

from __future__ import annotations

#: Published accelerator figures: *published, not measured here*.
PEERS = [
    {"design": "ODIN", "figure": "energy per synaptic op", "value": "12.7 pJ/SOP",
     "where": "28 nm FDSOI ASIC",
     "source": "Frenkel et al., IEEE Trans. Biomed. Circuits Syst. 13(1), 2019"},
    {"design": "ODIN", "figure": "clocks per synaptic op", "value": "2",
     "where": "time-multiplexed neuron core",
     "source": "Frenkel et al., IEEE Trans. Biomed. Circuits Syst. 13(1), 2019"},
    {"design": "ReckOn", "figure": "energy per synaptic op", "value": "5.3 pJ/SOP",
     "where": "28 nm FDSOI ASIC",
     "source": "Frenkel & Indiveri, ISSCC 2022"},
    {"design": "Spiker+", "figure": "MNIST accuracy, latency", "value": "93.85 %, 780 us/image",
     "where": "Xilinx FPGA", "source": "Carpegna et al., IEEE Trans. Emerg. Topics Comput., 2024"},
    {"design": "Spiker+", "figure": "SHD accuracy, latency", "value": "72.99 %, 54 us",
     "where": "Xilinx FPGA", "source": "Carpegna et al., IEEE Trans. Emerg. Topics Comput., 2024"},
    {"design": "hls4ml SNN", "figure": "SHD inference latency", "value": "~34 us",
     "where": "Xilinx FPGA (HLS, clock-driven)", "source": "Dillon, arXiv:2606.10008, 2026"},
]

#: ODIN's published rate, the line the throughput plot draws (synaptic ops per clock).
ODIN_SYNOPS_PER_CLOCK = 0.5

#: Energies per operation, 45 nm CMOS at 0.9 V (Horowitz, "Computing's energy problem (and
#: what we can do about it)", ISSCC 2014, Fig. 1.1.9), in pJ.
HOROWITZ_PJ = {
    "add8": 0.03, "add32": 0.1, "mult8": 0.2, "mult32": 3.1,
    "sram_read_64b_8kB": 10.0,
}
ENERGY_SOURCE = ("Horowitz, ISSCC 2014: 45 nm, 0.9 V; 8-bit add 0.03 pJ, 32-bit add 0.1 pJ, "
                 "8-bit multiply 0.2 pJ, 32-bit multiply 3.1 pJ, 64-bit read of an 8 kB SRAM "
                 "10 pJ")


def energy_per_operation(weight_bits: int = 8) -> dict:
    """The proxy's costs (pJ): an event-driven synaptic op reads one weight (its share of a
    64-bit SRAM word) and adds it into a 32-bit accumulator; a dense MAC reads the same
    weight, multiplies it by an 8-bit activation and adds; a neuron update reads and writes
    its 64-bit state word, takes two 32-bit products (the decays) and three adds. These are
    ASIC figures for the arithmetic a design does, not an FPGA's power."""
    e = HOROWITZ_PJ
    weight_read = e["sram_read_64b_8kB"] * weight_bits / 64
    return {"synop": weight_read + e["add32"],
            "dense_mac": weight_read + e["mult8"] + e["add32"],
            "neuron_update": 2 * e["sram_read_64b_8kB"] + 2 * e["mult32"] + 3 * e["add32"]}
