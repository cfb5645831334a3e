"""The ``depth`` modality: the depth maps of RGB-D datasets, resampled in time, scaled and
centre-cropped to one size, stored in millimetres (uint16) or metres (float16).

Formats read (checked against the authors' pages and the readers the field uses):

- **UTD-MHAD** ``Depth/a{A}_s{S}_t{T}_depth.mat``: one MATLAB variable ``d_depth`` of
  shape ``(240, 320, frames)`` (H x W x T, frames on the last axis), loaded as
  ``scipy.io.loadmat(path)["d_depth"]`` by the public readers; the dataset's page
  describes "16-bit depth image[s] with a resolution of 320x240 pixels" at
  "approximately 30 frames per second" (Kinect v1). Neither the page nor a reader states
  the units or the stored MATLAB class: the values are taken as millimetres (the Kinect
  SDK's depth unit) and integer or float arrays are both accepted; 0 is no reading.
- **NTU RGB+D** masked depth maps ``nturgb+d_depth_masked/{name}/MDepth-{n:08d}.png``:
  one folder per sample (``SsssCcccPpppRrrrAaaa``), one single-channel PNG per frame,
  numbered from 1 with 8 digits, 512 x 424 (W x H), in millimetres (the authors'
  ``show_skeleton_on_depthmaps.m``: "depth maps are in millimeters"), the background
  outside the performers 0. The files must be read unchanged (16 bit: OpenCV's
  ``IMREAD_UNCHANGED``); read as 8-bit images they lose the millimetres. No frame rate is
  published for the dataset; Kinect v2's depth stream is 30 Hz.

A sample is quarantined when its file cannot be read, holds no frame, or (NTU) skips a
frame number (a gap would shift the timeline).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harfuse.media.sampling import uniform_indices
from harfuse.modalities.base import Context, Modality, Stored

#: frame rate (Hz) of both datasets' depth streams (Kinect v1 and v2)
KINECT_DEPTH_FPS = 30.0
#: the UTD-MHAD ``.mat`` variable holding the maps
UTD_VARIABLE = "d_depth"
_NTU_FRAME = re.compile(r"^MDepth-(\d{8})\.png$", re.IGNORECASE)


class DepthError(ValueError):
    """A depth file or folder that cannot be used; the message names it and says why."""


class Depth(Modality):
    name = "depth"
    section = "depth"
    columns = ("depth_path",)
    arrays = ("depth",)
    default_encoder = "depth_cnn"

    def stored(self, raw: Any, prep: dict[str, dict[str, Any]], context: Context) -> Stored:
        """A depth file or folder -> ``(T, h, w)`` at ``depth.fps`` and ``depth.size``:
        uint16 mm (``storage: uint16``) or float16 m, with its units and rates."""
        maps, source_fps = read_depth(raw)
        return {"depth": depth_maps(maps, source_fps, prep["depth"], str(raw))}

    def model_input(self, stored: Stored, inputs: dict[str, Any]) -> np.ndarray:
        maps, attrs = stored["depth"]
        return depth_input(maps, attrs, inputs["depth_length"])

    def dummy_shape(self, config: dict[str, Any], variant: str) -> tuple[int, ...]:
        return (config["train"]["inputs"]["depth_length"], *square(config["depth"]["size"]))

    def report_notes(
        self, config: dict[str, Any], variants: dict[str, dict[str, Any]]
    ) -> list[str]:
        depth = config["depth"]
        h, w = square(depth["size"])
        units = "uint16 mm" if depth["storage"] == "uint16" else "float16 m"
        return [
            f"depth = the dataset's depth maps at {depth['fps']:g} fps, {h}x{w} px "
            f"(scaled to cover, centre-cropped), stored as {units}"
        ]


def square(size: int | Sequence[int]) -> tuple[int, int]:
    """``depth.size`` as ``(h, w)``: an int ``s`` is the centre square ``s x s``."""
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def read_depth(path: str | Path) -> tuple[np.ndarray, float]:
    """``(T, H, W)`` uint16 mm and the frame rate (Hz) of a UTD-MHAD ``_depth.mat`` file
    or an NTU RGB+D masked depth folder; :class:`DepthError` / ``OSError`` say why not."""
    path = Path(path)
    if path.is_dir():
        return read_ntu_folder(path), KINECT_DEPTH_FPS
    if path.suffix.lower() == ".mat":
        return read_utd_mat(path), KINECT_DEPTH_FPS
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such depth file or folder")
    raise DepthError(f"{path}: not a UTD-MHAD _depth.mat file nor a folder of MDepth-*.png")


def read_utd_mat(path: Path) -> np.ndarray:
    """UTD-MHAD's ``d_depth`` ``(H, W, T)`` -> ``(T, H, W)`` uint16 mm."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        mat = loadmat(path, variable_names=[UTD_VARIABLE])
    except (MatReadError, ValueError, TypeError, OSError) as exc:  # OSError: truncated
        raise DepthError(f"{path}: not a readable MATLAB file ({exc})") from exc
    if UTD_VARIABLE not in mat:
        raise DepthError(f"{path}: no variable {UTD_VARIABLE} (UTD-MHAD depth)")
    maps = np.asarray(mat[UTD_VARIABLE])
    if maps.ndim == 2:  # MATLAB drops a trailing singleton axis: one frame
        maps = maps[:, :, None]
    if maps.ndim != 3 or maps.shape[2] == 0:
        raise DepthError(f"{path}: {UTD_VARIABLE} has shape {maps.shape}, not H x W x frames")
    return to_millimetres(maps.transpose(2, 0, 1), path)


def read_ntu_folder(folder: Path) -> np.ndarray:
    """An NTU RGB+D masked depth folder's ``MDepth-{n:08d}.png`` frames, in number order
    -> ``(T, H, W)`` uint16 mm."""
    import cv2

    numbered = sorted((int(m[1]), p) for p in folder.iterdir() if (m := _NTU_FRAME.match(p.name)))
    if not numbered:
        raise DepthError(f"{folder}: no MDepth-*.png frame")
    for expected, (number, _) in enumerate(numbered, start=1):
        if number != expected:
            raise DepthError(f"{folder}: MDepth-{expected:08d}.png missing (frames skip a number)")
    maps = []
    for _, png in numbered:
        image = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
        if image is None or image.ndim != 2:
            raise DepthError(f"{png}: not a single-channel depth PNG")
        if maps and image.shape != maps[0].shape:
            raise DepthError(f"{png}: {image.shape} differs from the first frame's {maps[0].shape}")
        maps.append(image)
    return to_millimetres(np.stack(maps), folder)


def to_millimetres(maps: np.ndarray, source: Path) -> np.ndarray:
    """Depth values as uint16 mm (floats are rounded; negative, non-finite or > 65535 is
    an error naming ``source``)."""
    if maps.dtype == np.uint16:
        return maps
    values = maps.astype(np.float64)
    if not np.isfinite(values).all() or values.min() < 0 or values.max() > 65535:
        raise DepthError(f"{source}: depth values outside 0-65535 mm")
    return np.rint(values).astype(np.uint16)


def depth_maps(
    maps: np.ndarray, source_fps: float, config: dict[str, Any], source: str = ""
) -> tuple[np.ndarray, dict[str, Any]]:
    """``(T, H, W)`` uint16 mm at ``source_fps`` Hz -> the stored ``(T', h, w)`` and its
    attributes: frames taken at ``config["fps"]`` on the source's timeline (the latest
    source frame at each step, as frames are decoded; at most ``max_duration_s``), each
    scaled to cover ``size`` and centre-cropped. Scaling is nearest-neighbour: averaging
    would blend the 0 of no reading into the edges of the people."""
    import cv2

    fps, (h, w) = float(config["fps"]), square(config["size"])
    seconds = len(maps) / source_fps
    if config["max_duration_s"] is not None:
        seconds = min(seconds, float(config["max_duration_s"]))
    steps = max(1, int(np.floor(seconds * fps + 1e-6)))
    picked = np.minimum((np.arange(steps) * source_fps / fps + 1e-6).astype(int), len(maps) - 1)
    height, width = maps.shape[1:]
    scale = max(h / height, w / width)
    new_h, new_w = max(h, round(height * scale)), max(w, round(width * scale))
    top, left = (new_h - h) // 2, (new_w - w) // 2
    out = np.stack(
        [
            cv2.resize(maps[i], (new_w, new_h), interpolation=cv2.INTER_NEAREST)[
                top : top + h, left : left + w
            ]
            for i in picked
        ]
    )
    attrs = {
        "fps": fps,
        "source_fps": source_fps,
        "source_frames": len(maps),
        "source_size": [int(height), int(width)],
        "source": source,
    }
    if config["storage"] == "uint16":
        return out, {**attrs, "units": "mm"}
    return (out.astype(np.float32) / 1000.0).astype(np.float16), {**attrs, "units": "m"}


def depth_input(maps: np.ndarray, attrs: dict[str, Any], length: int) -> np.ndarray:
    """Stored depth ``(T, h, w)`` -> ``(length, h, w)`` float32 metres, ``length`` maps
    sampled uniformly in time; 0 stays "no reading"."""
    picked = maps[uniform_indices(len(maps), length)].astype(np.float32)
    return picked / 1000.0 if attrs["units"] == "mm" else picked


MODALITY = Depth()
