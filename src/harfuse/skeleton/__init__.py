"""Skeleton modality: joint formats, dataset skeleton tracks and estimated keypoints,
normalisation to a fixed length."""
