import numpy as np
import pandas as pd
import pytest

from harfuse.media.audio import AudioParams, log_mel
from harfuse.media.decode import DecodeError, decode_audio, iter_frames_at_fps, read_audio
from harfuse.media.encode import write_video
from harfuse.media.frames import FrameParams, extract_frames, output_size
from harfuse.media.imu import (
    IMUError,
    read_imu_csv,
    read_timestamped_csv,
    regular_samples,
    resample,
)
from harfuse.media.sampling import pad_or_truncate, uniform_indices

from .helpers import damage_audio_packets


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


def test_heavy_repeats_of_a_sparse_vfr_source_warn_and_point_to_the_caps(tmp_path, caplog):
    from harfuse.preprocess.frames import video_frames

    levels = [20, 100, 180, 220]
    path = tmp_path / "sparse.mkv"
    write_video(path, gray_frames(levels), fps=1, times_s=[0.0, 2.0, 4.0, 6.0])  # 0.5 Hz
    with caplog.at_level("WARNING", logger="harfuse.media.frames"):
        frames, attrs = video_frames(path, {"fps": 8.0, "size": 16})
    assert len(frames) == 64 and attrs["source_frames"] == 4
    (warning,) = caplog.messages
    assert "64 frames at 8 fps repeat its 4 distinct frames 16x over" in warning
    assert "frames.max_duration_s" in warning and "frames.num_frames" in warning
    repeated = [rgb for _, rgb in iter_frames_at_fps(path, 8.0)]
    assert repeated[0] is repeated[1] and not repeated[0].flags.writeable  # converted once
    caplog.clear()
    with caplog.at_level("WARNING", logger="harfuse.media.frames"):
        video_frames(path, {"fps": 1.0, "size": 16})  # 8 frames of 4: no warning
    assert caplog.messages == []


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
    # the pose stage's size: a cap on the short side, never an enlargement
    assert output_size(576, 768, 720, upscale=False) == (576, 768)
    assert output_size(1080, 1920, 720, upscale=False) == (720, 1280)
    assert output_size(1080, 1920, None) == (1080, 1920)


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


def test_timestamped_csv_takes_seconds_and_iso_text_and_names_a_bad_row(tmp_path):
    # (MMAct's own text form is in tests/conformance/test_mmact.py)
    seconds = tmp_path / "seconds.csv"
    seconds.write_text("0.00,1,2,3\n0.02,2,3,4\n0.04,3,4,5\n")
    iso = tmp_path / "iso.csv"
    iso.write_text(
        "2018-11-09 13:42:51.980,1,2,3\n2018-11-09 13:42:52,2,3,4\n2018-11-09T13:42:52.020,3,4,5\n"
    )
    for path in (seconds, iso):
        data, rate, channels = read_timestamped_csv(path, "gyro")
        assert rate == pytest.approx(50.0) and channels == ["gyro_x", "gyro_y", "gyro_z"]
        np.testing.assert_allclose(data, [[1, 2, 3], [2, 3, 4], [3, 4, 5]], atol=1e-4)
    bad = tmp_path / "bad.csv"
    bad.write_text("2018-11-09 13:42:51.980,1,2,3\nyesterday,2,3,4\n")
    with pytest.raises(IMUError, match=r"bad\.csv: row 2: timestamp 'yesterday' is neither"):
        read_timestamped_csv(bad, "gyro")
    one_time = tmp_path / "one_time.csv"
    one_time.write_text("0.5,1,2,3\n0.5,2,3,4\n")
    with pytest.raises(IMUError, match=r"one_time\.csv: fewer than 2 distinct timestamps"):
        read_timestamped_csv(one_time, "gyro")


def test_regular_samples_sorts_averages_repeats_and_fills_a_gap():
    t = np.array([0.02, 0.0, 0.04, 0.04, 0.10, 0.06])
    x = np.array([[2.0], [0.0], [3.0], [5.0], [10.0], [6.0]])
    data, rate = regular_samples(t, x)
    assert rate == pytest.approx(50.0)
    # 0, 0.02, 0.04 (mean of 3 and 5), 0.06, 0.08 (interpolated), 0.10
    np.testing.assert_allclose(data[:, 0], [0, 2, 4, 6, 8, 10], atol=1e-5)


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


#: container suffix -> (video codec, audio codec, first packet's seconds of silence): AC3
#: in AVI as in the field report (a 1536-sample packet at 48 kHz), and AAC in MP4, whose
#: first packet is encoder priming that decoding drops anyway (so it leaves no gap)
DAMAGED_FIRST_PACKET = {".avi": ("mpeg4", "ac3", 1536 / 48000), ".mp4": ("libx264", "aac", 0.0)}


def chirp_clip(path, video_codec: str, audio_codec: str, seconds: float = 1.5) -> None:
    """A clip with a 200 Hz -> 2 kHz chirp at 48 kHz, so any time shift of the audio shows."""
    t = np.arange(round(48000 * seconds)) / 48000
    sound = 0.3 * np.sin(2 * np.pi * (200 * t + 900 * t**2 / seconds))
    frames = gray_frames([50] * round(10 * seconds))
    write_video(path, frames, 10, sound, 48000, codec=video_codec, audio_codec=audio_codec)


def decode_without_skipping(path) -> None:
    """The audio decoding before damaged packets were skipped: the first error ends it."""
    import av

    with av.open(str(path)) as container:
        for _ in container.decode(container.streams.audio[0]):
            pass


@pytest.mark.parametrize("suffix", sorted(DAMAGED_FIRST_PACKET))
def test_damaged_first_audio_packet_is_skipped_and_the_rest_stays_in_place(
    tmp_path, suffix, caplog
):
    import av

    video_codec, audio_codec, silence_s = DAMAGED_FIRST_PACKET[suffix]
    intact, damaged = tmp_path / f"intact{suffix}", tmp_path / f"damaged{suffix}"
    chirp_clip(intact, video_codec, audio_codec)
    packets = damage_audio_packets(intact, damaged, [0])
    with pytest.raises(av.error.InvalidDataError):
        decode_without_skipping(damaged)

    good, track = decode_audio(intact, 16000), decode_audio(damaged, 16000)
    assert (good.packets_total, good.packets_skipped, good.seconds_lost) == (packets, 0, 0.0)
    assert (track.packets_total, track.packets_skipped) == (packets, 1)
    assert track.seconds_lost == pytest.approx(silence_s)
    assert len(track.wave) == len(good.wave) == pytest.approx(1.5 * 16000, abs=400)
    gap = round(silence_s * 16000)
    assert np.abs(track.wave[: max(gap - 32, 0)]).max(initial=0) < 1e-4  # the resampler's
    # filter reaches 32 samples into the silence from the audio after it
    # after the gap and the frame the decoder has to prime again, the same samples, in place
    # (but the last 0.1 s, where the AAC encoder substituted noise for the tail: the noise
    # comes from the decoder's random state, which a lost packet leaves elsewhere)
    after = gap + 1000
    np.testing.assert_allclose(track.wave[after:-1600], good.wave[after:-1600], atol=1e-4)
    np.testing.assert_allclose(track.wave[-1600:], good.wave[-1600:], atol=0.05)
    assert f"damaged{suffix}: skipped 1 of {packets} audio packets" in caplog.text
    assert np.array_equal(read_audio(damaged, 16000), track.wave)  # predict's decoding


def test_damaged_audio_packets_in_the_middle_become_silence_without_a_shift(tmp_path):
    intact, damaged = tmp_path / "intact.mp4", tmp_path / "damaged.mp4"
    chirp_clip(intact, "libx264", "aac")
    damage_audio_packets(intact, damaged, [30, 31])  # 0.62 s to 0.66 s (0 is priming)
    good, track = decode_audio(intact, 16000), decode_audio(damaged, 16000)
    assert track.packets_skipped == 2
    assert track.seconds_lost == pytest.approx(2 * 1024 / 48000)
    assert len(track.wave) == len(good.wave)
    a, b = round(29 * 1024 / 3), round(31 * 1024 / 3)  # the lost span at 16 kHz
    assert not track.wave[a + 50 : b - 50].any()
    # before and after (one frame on each side is touched: the decoder's overlap), the
    # samples match (the last 0.1 s to within the AAC noise substitution, as above): the
    # resampler ran on through the silence, so no fractional shift
    np.testing.assert_allclose(track.wave[: a - 400], good.wave[: a - 400], atol=1e-5)
    np.testing.assert_allclose(track.wave[b + 800 : -1600], good.wave[b + 800 : -1600], atol=1e-4)
    np.testing.assert_allclose(track.wave[-1600:], good.wave[-1600:], atol=0.05)


def test_audio_with_no_decodable_packet_is_a_decode_error(tmp_path):
    intact, damaged = tmp_path / "intact.avi", tmp_path / "damaged.avi"
    chirp_clip(intact, "mpeg4", "ac3")
    damage_audio_packets(intact, damaged)
    with pytest.raises(DecodeError, match=r"damaged\.avi: no audio packet decodes"):
        decode_audio(damaged, 16000)
    with pytest.raises(DecodeError, match=r"damaged\.avi: no audio packet decodes"):
        read_audio(damaged, 16000)
