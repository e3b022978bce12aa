"""Rounding right shifts and overflow handling in hardware, keyed on the golden enums.

``shift_right`` and ``fit`` build Amaranth expressions that equal, bit for bit,
``spikeforge.golden.fixed.shift_right`` and ``fit`` for every mode.
"""

from amaranth.hdl import C, Mux, signed

from ..golden.fixed import Overflow, Rounding

__all__ = ["shift_right", "fit", "csd_digits", "mul_const"]


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
    """Bring ``value`` into ``signed(width)`` by saturating or wrapping.

    Saturation checks the bits above the format (all equal to the sign: it fits), so it
    adds no carry chain after the adder that made ``value``."""
    if not isinstance(overflow, Overflow):
        raise TypeError(f"overflow must be an Overflow, not {overflow!r}")
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer, not {width!r}")
    value = value + C(0, signed(width))        # signed, at least ``width`` bits, same value
    if overflow is Overflow.SATURATE and len(value) > width:
        top = value[width - 1:]                 # the sign bit of the format and everything above
        sign = value[len(value) - 1]
        fits = (top == 0) | (top == (1 << len(top)) - 1)
        hi = C((1 << (width - 1)) - 1, signed(width))
        lo = C(-(1 << (width - 1)), signed(width))
        return Mux(fits, value[:width].as_signed(), Mux(sign, lo, hi))
    return value[:width].as_signed()


def csd_digits(constant: int) -> list[tuple[int, int]]:
    """``constant`` in canonical signed digits: (shift, +1/-1) pairs, no two adjacent."""
    if not isinstance(constant, int) or constant < 0:
        raise ValueError(f"constant must be an integer >= 0, not {constant!r}")
    digits, shift = [], 0
    while constant:
        if constant & 1:
            digit = 2 - (constant & 3)      # +1 if the next bit is 0, -1 if it is 1
            digits.append((shift, digit))
            constant -= digit
        constant >>= 1
        shift += 1
    return digits


def mul_const(value, constant: int):
    """``value * constant`` as a sum of shifted copies (canonical signed digits): adders,
    not a multiplier, for constants baked into the design (e.g. a theta layer's rotation)."""
    terms = [(value << shift) if digit > 0 else -(value << shift)
             for shift, digit in csd_digits(constant)]
    if not terms:
        return C(0, 1) * value
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total
