"""Rounding right shifts and overflow handling in hardware, keyed on the golden enums.

``shift_right`` and ``fit`` build Amaranth expressions that equal, bit for bit,
``spikeforge.golden.fixed.shift_right`` and ``fit`` for every mode.
"""

from amaranth.hdl import C, Mux, signed

from ..golden.fixed import Overflow, Rounding

__all__ = ["shift_right", "fit"]


def shift_right(value, shift: int, rounding: Rounding):
    """``value / 2**shift`` rounded as ``rounding`` says (exact: widths grow as needed)."""
    if not isinstance(rounding, Rounding):
        raise TypeError(f"rounding must be a Rounding, not {rounding!r}")
    if not isinstance(shift, int) or shift < 0:
        raise ValueError(f"shift must be an integer >= 0, not {shift!r}")
    if shift == 0:
        return value
    half = 1 << (shift - 1)
    mask = (1 << shift) - 1
    if rounding is Rounding.FLOOR:
        return value >> shift
    if rounding is Rounding.HALF_UP:
        return (value + half) >> shift
    if rounding is Rounding.TOWARD_ZERO:
        return Mux(value < 0, (value + mask) >> shift, value >> shift)
    # HALF_EVEN: round up above half, and at exactly half when the floor is odd.
    floor = value >> shift
    rem = value[:shift]
    up = (rem > half) | ((rem == half) & floor[0])
    return floor + up


def fit(value, width: int, overflow: Overflow):
    """Bring ``value`` into ``signed(width)`` by saturating or wrapping."""
    if not isinstance(overflow, Overflow):
        raise TypeError(f"overflow must be an Overflow, not {overflow!r}")
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer, not {width!r}")
    value = value + C(0, signed(width))  # at least ``width`` bits wide, signed
    if overflow is Overflow.SATURATE:
        hi = (1 << (width - 1)) - 1
        lo = -(1 << (width - 1))
        value = Mux(value > hi, hi, Mux(value < lo, lo, value))
    return value[:width].as_signed()
