"""Pose estimation on RGB frames (MediaPipe Pose, models shipped in its wheel:
:mod:`harfuse.pose.estimator`) and drawing skeletons over frames
(:mod:`harfuse.pose.overlay`). Importing this package does not import MediaPipe: the
estimator loads it on first use."""
