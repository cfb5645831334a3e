"""Frame pairs with known flow, for checking flow methods against each other and the truth.

The pairs the flow ports' parity is judged on (``tests/test_flow_torch.py``,
``benchmarks/flow_parity.py``): a multi-scale texture (blurred noise
at sigma 1.5, 4 and 10 px), frame 0 a crop of it, frame 1 the same crop of the texture
moved by an affine map (``cv2.warpAffine``, cubic), both rounded to uint8. The true flow
of an affine motion ``M`` at pixel ``x`` is ``M·x − x`` in the texture's coordinates.
"""

from __future__ import annotations

import numpy as np

#: margin of texture around the crop, px, so that a moved texture still covers the crop
MARGIN = 20


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Multi-scale blurred noise scaled to 0..255, ``(h, w)`` float64."""
    import cv2

    rng = np.random.default_rng(seed)
    big = sum(cv2.GaussianBlur(rng.standard_normal((h, w)), (0, 0), s) * s for s in (1.5, 4, 10))
    return (big - big.min()) / (big.max() - big.min()) * 255


def affine(
    tx: float = 0.0,
    ty: float = 0.0,
    degrees: float = 0.0,
    zoom: float = 1.0,
    centre: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """``(2, 3)`` float32 map: rotation by ``degrees`` and scaling by ``zoom`` about
    ``centre`` (x, y in texture px), then a translation by (``tx``, ``ty``) px."""
    import cv2

    m = cv2.getRotationMatrix2D(centre, degrees, zoom)
    m[:, 2] += (tx, ty)
    return m.astype(np.float32)


def _moved(big: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    import cv2

    h, w = big.shape
    return cv2.warpAffine(big.astype(np.float32), matrix, (w, h), flags=cv2.INTER_CUBIC)


def _as_frames(first: np.ndarray, second: np.ndarray, h: int, w: int) -> np.ndarray:
    crop = (slice(MARGIN, MARGIN + h), slice(MARGIN, MARGIN + w))
    return np.stack([first[crop], second[crop]]).clip(0, 255).round().astype(np.uint8)


def affine_pair(matrix: np.ndarray, h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """``(2, h, w)`` uint8 gray frames: a texture crop, then the same crop of the texture
    moved by ``matrix`` (see :func:`affine`)."""
    big = texture(h + 2 * MARGIN, w + 2 * MARGIN, seed)
    return _as_frames(big, _moved(big, matrix), h, w)


def moving_object_pair(
    h: int = 96,
    w: int = 128,
    seed: int = 0,
    background=(1.0, 0.5),
    patch=(4.0, -2.5),
    noise: float = 0.0,
) -> np.ndarray:
    """``(2, h, w)`` uint8 gray frames: a textured background translating by
    ``background`` px and a second texture's square patch (half the frame's height,
    centred) translating by ``patch`` px over it; Gaussian ``noise`` (grey levels, std)
    added to both frames independently."""
    big_h, big_w = h + 2 * MARGIN, w + 2 * MARGIN
    back = texture(big_h, big_w, seed)
    front = texture(big_h, big_w, seed + 1000)
    side = h // 2
    top, left = (big_h - side) // 2, (big_w - side) // 2
    mask = np.zeros((big_h, big_w), np.float32)
    mask[top : top + side, left : left + side] = 1
    frames = []
    for shift in ((0.0, 0.0), (1.0, 1.0)):
        b = _moved(back, affine(background[0] * shift[0], background[1] * shift[1]))
        move = affine(patch[0] * shift[0], patch[1] * shift[1])
        f, m = _moved(front, move), _moved(mask, move)
        frames.append(b * (1 - m) + f * m)
    rng = np.random.default_rng(seed + 1)
    first, second = (f + rng.normal(0, noise, f.shape) if noise else f for f in frames)
    return _as_frames(first, second, h, w)


def cases(seed: int = 0, h: int = 96, w: int = 128) -> dict[str, np.ndarray]:
    """The parity test pairs for one texture ``seed``: name -> ``(2, h, w)`` uint8. Rotation
    and zoom are about the crop's centre."""
    centre = (MARGIN + w / 2, MARGIN + h / 2)
    return {
        "translation_small": affine_pair(affine(1.5, -0.75), h, w, seed),
        "translation_large": affine_pair(affine(6.3, 4.1), h, w, seed),
        "rotation_3deg": affine_pair(affine(degrees=3, centre=centre), h, w, seed),
        "zoom_1.04": affine_pair(affine(zoom=1.04, centre=centre), h, w, seed),
        "moving_object": moving_object_pair(h, w, seed),
        "moving_object_noisy": moving_object_pair(h, w, seed, noise=2.0),
    }
