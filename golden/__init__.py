"""The golden model: bit-exact fixed-point specification of spikeforge networks."""

from .fixed import Fixed, FixedRangeError, Overflow, Rounding, fit, shift_right
from .network import Decision, Formats, Layer, Network, NetworkFileError, NeuronKind
from .reference import FloatLayer, FloatNetwork, QuantizeError, quantize, simulate_float
from .simulate import InputError, Result, accuracy, check_inputs, simulate

__all__ = [
    "Fixed", "FixedRangeError", "Overflow", "Rounding", "fit", "shift_right",
    "Decision", "Formats", "Layer", "Network", "NetworkFileError", "NeuronKind",
    "FloatLayer", "FloatNetwork", "QuantizeError", "quantize", "simulate_float",
    "InputError", "Result", "accuracy", "check_inputs", "simulate",
]
