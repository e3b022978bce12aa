"""Fixed-point number formats, rounding and overflow modes.

Everything on the bit-exact path is an integer held in an ``int64`` NumPy
array. This module names every format (width, signedness, fractional bits),
every rounding mode and every overflow mode, and provides the vectorised
helpers that both the golden model and the HDL generator use, so the two
cannot drift apart.

Raw integers stay far below 2**62 by construction (formats are at most 40 bits
wide, products of two formats at most 62): ``check_fits`` is called after every
stage so NumPy's silent wrap-around can never corrupt a result unnoticed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Rounding", "Overflow", "Fixed", "FixedRangeError",
    "shift_right", "fit", "check_fits", "out_of_range", "as_int64", "bits_for_range",
]

#: Widest format allowed, so that a product of two formats fits in int64.
MAX_WIDTH = 31


class FixedRangeError(ArithmeticError):
    """A value left the range of its declared fixed-point format."""


class Rounding(enum.Enum):
    """How discarded fractional bits are rounded (right shifts, quantisation)."""

    FLOOR = "floor"              # toward -inf: plain arithmetic shift
    HALF_UP = "half_up"          # to nearest, ties toward +inf
    HALF_EVEN = "half_even"      # to nearest, ties to the even neighbour
    TOWARD_ZERO = "toward_zero"  # truncate the magnitude


class Overflow(enum.Enum):
    """What happens when a value does not fit its format."""

    SATURATE = "saturate"  # clamp to the nearest representable value
    WRAP = "wrap"          # two's-complement modulo 2**width


@dataclass(frozen=True)
class Fixed:
    """A fixed-point format: ``width`` bits, two's complement when ``signed``.

    The real value of a raw integer ``r`` is ``r * 2**-frac``.
    """

    width: int
    signed: bool = True
    frac: int = 0

    def __post_init__(self):
        if not isinstance(self.width, int) or not 1 <= self.width <= MAX_WIDTH:
            raise ValueError(f"fixed-point width must be an integer in 1..{MAX_WIDTH}, "
                             f"not {self.width!r}")
        if not isinstance(self.frac, int) or self.frac < 0:
            raise ValueError(f"fractional bits must be a non-negative integer, not {self.frac!r}")

    @property
    def min(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    def __str__(self):
        kind = "s" if self.signed else "u"
        return f"{kind}{self.width}" + (f".{self.frac}" if self.frac else "")

    def quantize(self, values, rounding: Rounding = Rounding.HALF_EVEN,
                 overflow: Overflow = Overflow.SATURATE) -> np.ndarray:
        """Float values to raw integers of this format (the only float entry point)."""
        values = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise ValueError(f"cannot quantise non-finite values to {self}")
        scaled = values * float(1 << self.frac)
        limit = float(1 << 62)
        scaled = np.clip(scaled, -limit, limit)
        raw = _round_float(scaled, rounding)
        return fit(raw, self, overflow)


def _round_float(x: np.ndarray, rounding: Rounding) -> np.ndarray:
    if rounding is Rounding.FLOOR:
        r = np.floor(x)
    elif rounding is Rounding.HALF_UP:
        r = np.floor(x + 0.5)
    elif rounding is Rounding.HALF_EVEN:
        r = np.rint(x)  # IEEE round-half-to-even
    elif rounding is Rounding.TOWARD_ZERO:
        r = np.trunc(x)
    else:
        raise ValueError(f"unknown rounding mode {rounding!r}")
    return r.astype(np.int64)


def as_int64(x) -> np.ndarray:
    """An integer array as int64, refusing floats (no floats on the bit-exact path)."""
    a = np.asarray(x)
    if a.dtype.kind not in "iub":
        raise TypeError(f"expected an integer array, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def shift_right(x, shift: int, rounding: Rounding) -> np.ndarray:
    """``x / 2**shift`` rounded as ``rounding`` says, in exact integer arithmetic.

    The hardware implements the same four modes with an arithmetic shift and a
    rounding constant (see ``spikeforge.hdl.arith``).
    """
    x = as_int64(x)
    if shift < 0:
        raise ValueError(f"shift must be >= 0, not {shift!r}")
    if shift == 0:
        return x.copy()
    half = np.int64(1 << (shift - 1))
    mask = np.int64((1 << shift) - 1)
    if rounding is Rounding.FLOOR:
        return x >> shift
    if rounding is Rounding.HALF_UP:
        return (x + half) >> shift
    if rounding is Rounding.TOWARD_ZERO:
        # negatives get the mask added before the shift (x >> 63 is -1 exactly for them)
        return (x + ((x >> np.int64(63)) & mask)) >> shift
    if rounding is Rounding.HALF_EVEN:
        floor = x >> shift
        rem = x & mask
        up = (rem > half) | ((rem == half) & ((floor & 1) == 1))
        return floor + up.astype(np.int64)
    raise ValueError(f"unknown rounding mode {rounding!r}")


def fit(x, fmt: Fixed, overflow: Overflow) -> np.ndarray:
    """Bring raw integers into ``fmt`` by saturating or wrapping."""
    x = as_int64(x)
    if overflow is Overflow.SATURATE:
        # two ufuncs: np.clip's argument handling costs more than the clip on these sizes
        return np.minimum(np.maximum(x, np.int64(fmt.min)), np.int64(fmt.max))
    if overflow is Overflow.WRAP:
        wrapped = x & np.int64((1 << fmt.width) - 1)
        if fmt.signed:
            wrapped = np.where(wrapped > fmt.max, wrapped - (1 << fmt.width), wrapped)
        return wrapped
    raise ValueError(f"unknown overflow mode {overflow!r}")


def out_of_range(x, fmt: Fixed) -> int | None:
    """The most extreme value of ``x`` outside ``fmt``, or None if every value fits."""
    x = np.asarray(x)
    if not x.size:
        return None
    lo, hi = int(x.min()), int(x.max())
    if lo < fmt.min:
        return lo
    if hi > fmt.max:
        return hi
    return None


def check_fits(x, fmt: Fixed, stage: str) -> np.ndarray:
    """Assert that ``x`` lies in ``fmt``; name the stage and the offending value if not."""
    x = as_int64(x)
    bad = out_of_range(x, fmt)
    if bad is not None:
        raise FixedRangeError(f"{stage}: value {bad} outside {fmt} [{fmt.min}, {fmt.max}]")
    return x


def bits_for_range(lo: int, hi: int) -> int:
    """Smallest two's-complement width holding every integer in [lo, hi]."""
    width = 1
    while not (-(1 << (width - 1)) <= lo and hi <= (1 << (width - 1)) - 1):
        width += 1
    return width
