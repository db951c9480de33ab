"""Named weights that belong to no video model: the YuNet face detector (``--detector yunet``).

Declared in the hub rather than beside the detector, so that the entry is registered whenever
named weights are (``fervid weights list`` shows it) without importing ``fervid.data``, which runs it
(:mod:`fervid.data.detectors`).
"""

from fervid.hub.entries import Url, Weights, register_weights

YUNET = "yunet/2023mar"  # `--detector yunet` without a model file fetches this into torch.hub's cache
register_weights(
    Weights(
        model="yunet",
        name="2023mar",
        description="YuNet face detector (OpenCV Zoo), run by cv2.FaceDetectorYN",
        # OpenCV Zoo keeps it in Git LFS; GitHub's raw URL redirects to the LFS file.
        source=Url(
            "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
            "face_detection_yunet_2023mar.onnx"
        ),
        licence="MIT",
        sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
        size=232_589,
    )
)
