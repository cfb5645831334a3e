"""Each modality's preprocessing, from raw input and its config section to the array the
stage stores and its attributes, one module per modality (so that a stage's code version
covers its own modality only). The stages write what these return into shards;
``harfuse predict`` calls the same functions, so a model sees at prediction exactly what
it was trained on (``tests/test_predict_parity.py`` checks it over a matrix of settings).

- :mod:`harfuse.preprocess.frames`: ``video_frames``, ``as_stored``, ``jpeg_quality``
- :mod:`harfuse.preprocess.flow`: ``flow_field``
- :mod:`harfuse.preprocess.audio`: ``log_mel_spectrogram``
- :mod:`harfuse.preprocess.imu`: ``imu_window``
"""

from typing import Any

#: a stored array's attributes (HDF5 attrs of ``/{sample_id}/{name}``)
Attrs = dict[str, Any]
