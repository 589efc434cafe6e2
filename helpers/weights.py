"""ImageNet weights for the backbones the course uses (docs/architecture.md, "Data and weights").

``prepare(name, mode)`` puts the no-top weight file where ``keras.applications`` looks for it
(``$KERAS_HOME/models``, default ``~/.keras/models``), downloading it with the course's mirrors,
checksum and resume. The result's ``keras_weights`` is what the notebook passes as
``weights=``: ``"imagenet"``; or, in quick mode when the file cannot be had, the path of the
backbone's course-pretrained weights (``helpers.pretrain``, trained on first use on a synthetic
source set, never called ImageNet) where it has a recipe, else ``None`` (random
initialisation). Full and paper mode never fall back: they raise ``DataUnavailable``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from helpers import pretrain
from helpers.datasets.download import (
    DataUnavailable,
    Remote,
    download,
    expected_checksum,
    in_full_mode,
)
from helpers.runtime import offline

_KA = "https://storage.googleapis.com/tensorflow/keras-applications/"
_EFF = "https://storage.googleapis.com/keras-applications/"

# Backbone name -> the no-top weight file keras.applications loads (name, URL and hash as there).
BACKBONES: dict[str, Remote] = {
    "VGG16": Remote(
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        (_KA + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",),
        "md5:6d6bbae143d832006294945121d1f1fc",
    ),
    "MobileNetV2_96": Remote(
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5",
        (_KA + "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5",),
    ),
    "MobileNetV2_160": Remote(
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5",
        (_KA + "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5",),
    ),
    "MobileNetV2_224": Remote(  # 04's exercise 04.1 (at 150 px Keras loads the 224 file)
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        (_KA + "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",),
    ),
    "MobileNet_224": Remote(
        "mobilenet_1_0_224_tf_no_top.h5",
        (_KA + "mobilenet/mobilenet_1_0_224_tf_no_top.h5",),
    ),
    "EfficientNetB0": Remote(
        "efficientnetb0_notop.h5",
        (_EFF + "efficientnetb0_notop.h5",),
        "md5:50bc09e76180e00e4465e1a485ddc09d",
    ),
    "EfficientNetB5": Remote(
        "efficientnetb5_notop.h5",
        (_EFF + "efficientnetb5_notop.h5",),
        "md5:38879255a25d3c92d5e44e04ae6cec6f",
    ),
}


LABELS = {"imagenet": "ImageNet", "random": "random init",
          "course-pretrained": "course-pretrained, not ImageNet"}


@dataclass(frozen=True)
class PreparedWeights:
    """A backbone's weights for this run: ``kind`` is ``"imagenet"``, ``"course-pretrained"``
    or ``"random"``; ``keras_weights`` is what the notebook passes as ``weights=`` (in a
    rehearsal, a file's path where Keras would check the published hash, see ``prepare``);
    ``reason`` (short) and ``detail`` (the download error) say why they are not ImageNet's;
    ``source`` what course-pretrained weights were trained on, ``tag`` their recipe's digest."""

    name: str
    kind: str
    keras_weights: str | None
    path: Path | None = None
    reason: str = ""
    detail: str = ""
    source: str = ""
    tag: str = ""

    @property
    def label(self) -> str:
        return LABELS[self.kind]

    def summary(self) -> str:
        """One line for the banner."""
        why = f"{self.reason}: ImageNet's could not be had" if self.source else self.reason
        parts = [p for p in (self.source, why) if p]
        return f"{self.name}: {self.label}" + (f" ({'; '.join(parts)})" if parts else "")

    def as_record(self) -> dict[str, str]:
        """The structured provenance the results JSON keeps."""
        record = {"kind": self.kind, "label": self.label, "reason": self.reason}
        return {**record, "source": self.source, "tag": self.tag} if self.source else record

    def __str__(self) -> str:
        return self.label


def keras_models_dir() -> Path:
    """The folder ``keras.utils.get_file(..., cache_subdir="models")`` uses."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def imagenet_ready(name: str) -> bool:
    """Whether backbone ``name``'s ImageNet weights are cached or can be downloaded now (they
    are then downloaded): what ``prepare`` tries first, before course-pretrained weights."""
    remote = BACKBONES[name]
    try:
        download(remote, keras_models_dir() / remote.filename)
    except DataUnavailable:
        return False
    return True


def prepare(name: str, mode: str, random: bool = False) -> PreparedWeights:
    """ImageNet weights for backbone ``name`` if they can be had; see the module docstring.
    ``random=True`` (a dry run) takes random weights without trying the download."""
    try:
        remote = BACKBONES[name]
    except KeyError:
        raise KeyError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}") from None
    if random:
        return PreparedWeights(name, "random", None, reason="dry run",
                               detail="a dry run checks shapes, never the pretrained weights")
    try:
        path = download(remote, keras_models_dir() / remote.filename)
    except DataUnavailable as err:
        if mode != "quick":
            raise in_full_mode(err, "randomly initialised weights") from None
        reason = "offline" if offline() else "download failed"
        if name in pretrain.RECIPES:
            made = pretrain.ensure(name)
            return PreparedWeights(name, "course-pretrained", str(made.path), made.path,
                                   reason=reason, detail=str(err), source=made.describe(),
                                   tag=pretrain.recipe(name).digest())
        return PreparedWeights(name, "random", None, reason=reason, detail=str(err))
    # keras.applications checks VGG16's and EfficientNet's files against the published hash
    # itself (and would download the real file): a rehearsal's random file goes by its path.
    rehearsed = remote.checksum and expected_checksum(remote) != remote.checksum
    return PreparedWeights(name, "imagenet", str(path) if rehearsed else "imagenet", path)
