"""Issue 20: work shared between this process and a forked one, piece by piece, fills the
same array the serial loop does, for any length and piece size."""

from __future__ import annotations

import sys

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.matching import batch

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="forked processes are used on Linux only"
)


@settings(max_examples=15, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=3000),
    piece=st.integers(min_value=1, max_value=700),
    width=st.integers(min_value=1, max_value=4),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_shared_pieces_equal_the_serial_loop(size: int, piece: int, width: int, seed: int) -> None:
    data = np.random.default_rng(seed).normal(size=(size, width))

    def work(start: int, stop: int) -> npt.NDArray[np.float64]:
        return np.sqrt(np.abs(data[start:stop])) * 3.0 - data[start:stop] ** 2

    expected = work(0, size)
    out = np.zeros((size, width))
    done: list[int] = []
    original = batch._SHARED_CHUNK
    setattr(batch, "_SHARED_CHUNK", piece)  # noqa: B010 - a Final name
    try:
        batch._shared(work, out, done.append)
    finally:
        setattr(batch, "_SHARED_CHUNK", original)  # noqa: B010
    assert out.tobytes() == expected.tobytes()
    assert sorted(done) == done
    assert done[-1] == size
