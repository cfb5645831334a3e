"""Which OpenCV the torch flow ports reproduce bit for bit, and the tolerance elsewhere.

The TV-L1 port follows the arithmetic of one OpenCV release on one kind of CPU: IPP's
``cv::resize`` (with 5.1's 2x2 mean for an exact half) and OpenCV 5's FMA bicubic
``remap`` on an x86 CPU with FMA3 (see ``harfuse.flow.tvl1_torch``). Another release
computes differently (5.0.0 shrinks by one half through the linear kernel, so cv2 itself
gives other bits there). There the port can only be held to cv2's
own noise floor: how far cv2's flow moves when its input moves by less than 1e-4 grey
levels, as ``benchmarks/flow_parity.py`` measures it on the synthetic pairs of
``benchmarks/flow_cases.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``cv2.__version__`` of the release whose arithmetic the ports follow (the lock's pin)
FOLLOWED = "5.1.0"


@dataclass(frozen=True)
class Tolerance:
    """A bound on the port's flow against cv2's over a pair: mean endpoint error (px) at
    most ``mean_epe``, and at least ``codes`` of the uint8 codes (bound 20) identical."""

    mean_epe: float
    codes: float


#: cv2's noise floor: the worst case over the runs of benchmarks/flow_parity.py in
#: BENCHMARKS.md (OpenCV 5.0.0 and 5.1.0, 128x96 and 340x256; translation_large, 6.8e-2 px
#: mean and 89.7 % codes over 2 seeds), rounded outwards. TV-L1 with OpenCV's defaults is
#: that ill-conditioned: a port can only be held to what cv2 does to itself.
NOISE_FLOOR = Tolerance(mean_epe=0.07, codes=0.89)

_CV_CPU_FMA3 = 12  # OpenCV's CV_CPU_FMA3; the Python bindings do not export the enum


def version_blocker() -> str | None:
    """None where cv2 is the release the ports follow, else why they can only be held to
    ``NOISE_FLOOR`` here."""
    import cv2

    if cv2.__version__ != FOLLOWED:
        return (
            f"cv2 {cv2.__version__} is not {FOLLOWED}, whose arithmetic the torch ports follow "
            f"bit for bit; holding them to cv2's noise floor ({NOISE_FLOOR}) instead"
        )
    return None


def bit_exact_blocker() -> str | None:
    """None where cv2 runs the arithmetic the ports follow (this OpenCV release, IPP on,
    an FMA3 CPU), else why the port can only be held to ``NOISE_FLOOR`` here."""
    import cv2

    if version_blocker() is not None:
        return version_blocker()
    if not (cv2.ipp.useIPP() and cv2.checkHardwareSupport(_CV_CPU_FMA3)):
        return (
            "cv2 runs its IPP / FMA kernels only on an x86 CPU with FMA3; holding the torch "
            f"ports to cv2's noise floor ({NOISE_FLOOR}) instead"
        )
    return None
