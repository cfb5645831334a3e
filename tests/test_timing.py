"""Benchmark helpers: interleaved rounds and median ratios; where a result came from."""

import platform

import pytest

from harfuse import environment
from harfuse.timing import Ratio, interleaved, rate


def test_rounds_alternate_the_order():
    order: list[str] = []
    runs = {name: (lambda name=name: order.append(name)) for name in "abc"}
    seconds = interleaved(runs, rounds=4)
    assert order == list("abccbaabccba")
    assert {k: len(v) for k, v in seconds.items()} == {"a": 4, "b": 4, "c": 4}
    assert all(t >= 0 for v in seconds.values() for t in v)
    with pytest.raises(ValueError, match="rounds"):
        interleaved(runs, rounds=0)


def test_ratio_is_the_median_of_per_round_ratios():
    # round 2 ran under load on both sides: its ratio is as good as the others'
    ratio = Ratio.of([2.0, 40.0, 3.0], [1.0, 20.0, 1.0])
    assert (ratio.median, ratio.low, ratio.high) == (2.0, 2.0, 3.0)
    assert str(ratio) == "2.00 (min 2.00, max 3.00)"
    assert rate(10, [1.0, 5.0, 2.0]) == 5.0
    with pytest.raises(ValueError, match="same number"):
        Ratio.of([1.0], [1.0, 2.0])


def test_environment_names_cpu_python_and_versions(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\n")
    assert environment.cpu_model(cpuinfo) == "Test CPU 9000"
    assert environment.cpu_model(tmp_path / "missing")  # falls back to platform
    assert environment.versions(("numpy", "no-such-dist")) == {
        "numpy": __import__("numpy").__version__,
        "no-such-dist": "absent",
    }
    line = environment.describe(("numpy",))
    assert f"Python {platform.python_version()}" in line and "numpy " in line
    assert f"{environment.cores()} cores" in line
