"""spikeforge: event-driven FPGA accelerators for spiking neural networks."""

__version__ = "0.1.0"
