"""Live digit reading from a camera, video file or image folder, built on ``runtime``."""
