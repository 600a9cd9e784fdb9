"""Live digit reading from a camera, video file or image folder, built on ``runtime``.

    python -m camera_demo.synth sample.mp4 --frames 300 --data /path/to/mnist
    python -m camera_demo --headless --source sample.mp4 --model model_int8.tflite

Modules: ``sources`` (cameras, V4L2 devices, streams, video files, image folders, picamera2),
``pipeline`` (find digits, classify them in one batch, smooth over frames via ``smoothing``),
``overlay`` (the drawn view), ``window`` (the preview window), ``output`` (JSONL records,
snapshots, the run summary), ``cli`` (the ``digit-camera`` command) and ``synth`` (a sample
video of MNIST test digits written on paper, with ground truth).
"""
