import numpy as np
import pandas as pd
import pytest

from harfuse.media.audio import AudioParams, log_mel
from harfuse.media.decode import DecodeError, iter_frames_at_fps, read_audio
from harfuse.media.encode import write_video
from harfuse.media.frames import FrameParams, extract_frames, output_size
from harfuse.media.imu import IMUError, read_imu_csv, resample
from harfuse.media.sampling import pad_or_truncate, uniform_indices


def gray_frames(levels: list[int], size: int = 32) -> np.ndarray:
    """Frames of uniform gray ``levels`` (one per frame) so a decoded frame is identifiable."""
    return np.stack([np.full((size, size, 3), v, np.uint8) for v in levels])


def identify(rgb: np.ndarray, levels: list[int]) -> int:
    return int(np.argmin([abs(float(rgb.mean()) - v) for v in levels]))


def test_frames_are_sampled_by_timestamp_in_variable_frame_rate_video(tmp_path):
    levels = [20, 60, 100, 140, 180, 220]
    times = [0.0, 0.1, 0.15, 0.5, 0.55, 0.9]  # irregular gaps
    path = tmp_path / "vfr.mp4"
    write_video(path, gray_frames(levels), fps=10, times_s=times)
    got = [(round(t, 3), identify(rgb, levels)) for t, rgb in iter_frames_at_fps(path, 5.0)]
    # the frame on screen at t = 0, 0.2, 0.4, 0.6, 0.8 s (the last one lasts 0.35 s)
    assert got == [(0.0, 0), (0.2, 2), (0.4, 2), (0.6, 4), (0.8, 4), (1.0, 5), (1.2, 5)]


def test_extract_frames_resizes_short_side_and_limits_duration(tmp_path):
    path = tmp_path / "cfr.mp4"
    frames = np.random.default_rng(0).integers(0, 255, (20, 48, 64, 3), dtype=np.uint8)
    write_video(path, frames, fps=10)
    out = extract_frames(path, FrameParams(fps=5.0, size=24))
    assert out.shape == (10, 24, 32, 3) and out.dtype == np.uint8
    short = extract_frames(path, FrameParams(fps=5.0, size=(16, 16), max_duration_s=1.0))
    assert short.shape == (5, 16, 16, 3)


def test_output_size():
    assert output_size(240, 320, 112) == (112, 149)
    assert output_size(320, 240, 112) == (149, 112)
    assert output_size(240, 320, (100, 50)) == (100, 50)


def test_not_a_video_raises_decode_error_naming_the_file(tmp_path):
    bad = tmp_path / "fake.mp4"
    bad.write_text("this is not a video")
    with pytest.raises(DecodeError, match=r"fake\.mp4: cannot open"):
        extract_frames(bad, FrameParams(fps=5.0, size=16))


def test_read_audio_resamples_and_reports_missing_track(tmp_path):
    sr = 22050
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)).astype(np.float32)
    with_audio, without = tmp_path / "a.mp4", tmp_path / "b.mp4"
    write_video(with_audio, gray_frames([50] * 10), fps=10, audio=tone, audio_rate=sr)
    write_video(without, gray_frames([50] * 10), fps=10)
    wave = read_audio(with_audio, 16000)
    assert abs(len(wave) - 16000) < 2048  # 1 s, up to one AAC frame of priming/padding
    spectrum = np.abs(np.fft.rfft(wave[2000:14000]))
    assert abs(np.argmax(spectrum) * 16000 / 12000 - 440) < 3
    assert read_audio(without, 16000) is None


def test_log_mel_shape_and_peak_band():
    p = AudioParams(sample_rate=16000, n_mels=40, n_fft=512, hop_length=160, fmax=8000.0)
    t = np.arange(16000) / 16000
    mel = log_mel(np.sin(2 * np.pi * 1000 * t), p)
    assert mel.shape == (40, 1 + 16000 // 160) and mel.dtype == np.float32
    import librosa

    centres = librosa.mel_frequencies(n_mels=42, fmin=0, fmax=8000)[1:-1]
    peak = int(np.argmax(mel[:, 50]))
    assert abs(centres[peak] - 1000) < 150
    assert mel.max() < 60 and mel.min() >= -100.0 - 1e-3


def test_resample_100_to_50_hz_keeps_frequency_and_amplitude():
    t = np.arange(1000) / 100.0  # 10 s at 100 Hz
    x = np.stack([2.0 * np.sin(2 * np.pi * 5 * t), np.cos(2 * np.pi * 3 * t)], axis=1)
    y = resample(x.astype(np.float32), 100.0, 50.0)
    assert y.shape == (500, 2)
    core = y[50:-50]  # away from the filter's edge effects
    freqs = np.fft.rfftfreq(len(core), 1 / 50.0)
    assert freqs[np.argmax(np.abs(np.fft.rfft(core[:, 0])))] == pytest.approx(5.0, abs=0.1)
    assert freqs[np.argmax(np.abs(np.fft.rfft(core[:, 1])))] == pytest.approx(3.0, abs=0.1)
    amplitude = 2 * np.abs(np.fft.rfft(core[:, 0])).max() / len(core)
    assert amplitude == pytest.approx(2.0, rel=0.02)
    # sample by sample: the same as sampling the sine at 50 Hz in the first place
    ideal = 2.0 * np.sin(2 * np.pi * 5 * np.arange(500) / 50.0)
    assert np.abs(y[50:-50, 0] - ideal[50:-50]).max() < 0.05


def test_resample_removes_content_above_new_nyquist():
    t = np.arange(2000) / 100.0
    x = np.sin(2 * np.pi * 40 * t)[:, None].astype(np.float32)  # 40 Hz > 25 Hz Nyquist
    y = resample(x, 100.0, 50.0)
    assert np.abs(y[100:-100]).max() < 0.05  # not folded back to 10 Hz


def test_pad_or_truncate_and_uniform_indices():
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    padded, valid = pad_or_truncate(x, 8)
    assert padded.shape == (8, 2) and valid == 5 and not padded[5:].any()
    cut, valid = pad_or_truncate(x, 3)
    assert valid == 3 and np.array_equal(cut, x[:3])
    assert uniform_indices(10, 5).tolist() == [1, 3, 5, 7, 9]
    assert uniform_indices(2, 4).tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="empty"):
        uniform_indices(0, 3)


def test_read_imu_csv_rate_and_errors(tmp_path):
    good = tmp_path / "good.csv"
    pd.DataFrame({"time_s": np.arange(5) / 100, "acc_x": np.ones(5)}).to_csv(good, index=False)
    data, rate, channels = read_imu_csv(good)
    assert data.shape == (5, 1) and rate == pytest.approx(100.0) and channels == ["acc_x"]

    nan = tmp_path / "nan.csv"
    nan.write_text("time_s,acc_x\n0,1\n0.01,nan\n0.02,1\n")
    with pytest.raises(IMUError, match=r"nan\.csv: non-finite values in 1 cells"):
        read_imu_csv(nan)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(IMUError, match=r"empty\.csv: not a readable CSV"):
        read_imu_csv(empty)
    no_time = tmp_path / "no_time.csv"
    no_time.write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(IMUError, match="no time_s column"):
        read_imu_csv(no_time)


def test_rotation_metadata_is_applied(tmp_path):
    import av

    frames = np.zeros((4, 32, 48, 3), np.uint8)
    frames[:, :8, :8] = 255  # a marker in the top-left corner of a landscape frame
    path = tmp_path / "portrait.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        stream.set_display_rotation(90)  # shown turned 90 degrees counter-clockwise
        for rgb in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode())
    shown = extract_frames(path, FrameParams(fps=8.0, size=(48, 32)))
    assert shown.shape == (4, 48, 32, 3)  # portrait
    assert shown[0, -8:, :8].mean() > 200 and shown[0, :8, :8].mean() < 30  # now bottom-left


def test_uniform_num_frames(tmp_path):
    levels = list(range(10, 250, 12))  # 20 frames
    path = tmp_path / "v.mp4"
    write_video(path, gray_frames(levels), fps=10)
    out = extract_frames(path, FrameParams(fps=10.0, size=32, num_frames=4))
    assert [identify(f, levels) for f in out] == [2, 7, 12, 17]
