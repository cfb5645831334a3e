"""harfuse: multimodal human activity recognition preprocessing, features and fusion.

Importing the package is cheap: heavy dependencies (torch, cv2, av, librosa) are imported
by the modules that need them, so the frame or IMU stages never pay for torch.
"""

__version__ = "0.1.0"
