"""Shared helpers of the CNN / augmentation / transfer-learning lab course (DESIGN.md).

Notebooks start with ``cfg = helpers.setup("01_mnist_cnn", params=..., datasets=[...])``.
"""

from helpers.config import setup

REPOSITORY_URL = "https://github.com/dl-lab-course/cnn-transfer-course"
"""The course repository: Colab cells install ``helpers`` from here (tests keep notebooks and
README in step with this one value)."""

__all__ = ["REPOSITORY_URL", "setup"]
