"""Rounding and overflow modes against exact rational arithmetic."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, strategies as st

from spikeforge.golden.fixed import (Fixed, FixedRangeError, Overflow, Rounding, bits_for_range,
                                     check_fits, fit, shift_right)


def exact_round(q: Fraction, mode: Rounding) -> int:
    floor = math.floor(q)
    rem = q - floor
    if mode is Rounding.FLOOR:
        return floor
    if mode is Rounding.TOWARD_ZERO:
        return int(q)  # int() of a Fraction truncates toward zero
    if mode is Rounding.HALF_UP:
        return floor + (1 if rem >= Fraction(1, 2) else 0)
    if mode is Rounding.HALF_EVEN:
        if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and floor % 2 == 1):
            return floor + 1
        return floor
    raise AssertionError(mode)


@pytest.mark.parametrize("mode", list(Rounding))
@given(values=st.lists(st.integers(-(1 << 40), 1 << 40), min_size=1, max_size=30),
       shift=st.integers(0, 20))
def test_shift_right_matches_exact(mode, values, shift):
    got = shift_right(np.array(values, np.int64), shift, mode)
    want = [exact_round(Fraction(v, 1 << shift), mode) for v in values]
    assert got.tolist() == want


@pytest.mark.parametrize("mode,values,want", [
    (Rounding.FLOOR, [5, -5, 6, -6, 7, -7], [1, -2, 1, -2, 1, -2]),
    (Rounding.HALF_UP, [5, -5, 6, -6, 7, -7], [1, -1, 2, -1, 2, -2]),
    (Rounding.HALF_EVEN, [2, 6, -2, -6, 10, -10], [0, 2, 0, -2, 2, -2]),
    (Rounding.TOWARD_ZERO, [5, -5, 7, -7], [1, -1, 1, -1]),
])
def test_shift_right_by_hand(mode, values, want):
    assert shift_right(np.array(values), 2, mode).tolist() == want


@pytest.mark.parametrize("signed", [True, False])
@given(values=st.lists(st.integers(-(1 << 20), 1 << 20), min_size=1, max_size=30),
       width=st.integers(2, 16))
def test_overflow_modes_match_exact(signed, values, width):
    fmt = Fixed(width, signed=signed)
    x = np.array(values, np.int64)
    assert fit(x, fmt, Overflow.SATURATE).tolist() == [min(max(v, fmt.min), fmt.max) for v in values]
    span = 1 << width
    assert fit(x, fmt, Overflow.WRAP).tolist() == [(v - fmt.min) % span + fmt.min for v in values]


def test_format_ranges_and_quantize():
    assert (Fixed(8).min, Fixed(8).max) == (-128, 127)
    assert (Fixed(8, signed=False).min, Fixed(8, signed=False).max) == (0, 255)
    decay = Fixed(4, signed=False, frac=4)
    assert decay.quantize([0.5, 0.99, 1.0, -0.1]).tolist() == [8, 15, 15, 0]
    assert Fixed(8).quantize([2.5, 3.5, -2.5], Rounding.HALF_EVEN).tolist() == [2, 4, -2]
    assert Fixed(8).quantize([2.5, -2.5], Rounding.HALF_UP).tolist() == [3, -2]
    assert Fixed(8).quantize([1000.0], overflow=Overflow.WRAP).tolist() == [1000 - 1024]
    with pytest.raises(ValueError, match="non-finite"):
        Fixed(8).quantize([np.nan])
    with pytest.raises(ValueError, match="width"):
        Fixed(40)


def test_check_fits_names_stage_and_value():
    check_fits(np.array([-128, 127]), Fixed(8), "ok")
    with pytest.raises(FixedRangeError, match=r"layer 0 synaptic input: value 128 outside s8"):
        check_fits(np.array([0, 128]), Fixed(8), "layer 0 synaptic input")
    with pytest.raises(TypeError, match="integer"):
        check_fits(np.array([0.5]), Fixed(8), "x")


@given(lo=st.integers(-(1 << 30), 0), hi=st.integers(0, 1 << 30))
def test_bits_for_range_is_minimal(lo, hi):
    w = bits_for_range(lo, hi)
    assert -(1 << (w - 1)) <= lo and hi < (1 << (w - 1))
    if w > 1:
        assert lo < -(1 << (w - 2)) or hi >= (1 << (w - 2))
