"""Image classifier (Keras 3, TensorFlow by default): the paper's Keras applications plus a small CNN.

Trained from a label snapshot (current labels, labels as of a time, or one tagger's labels; the
job service takes it at submit and records it with the model). Inference writes per-item class
probabilities and the penultimate-layer feature vectors (for similarity search).

Plain data and arithmetic: the web process validates parameters without importing Keras. Rules
that need the server's settings (where a weights file may be) or the labels (at least two
labeled classes) are checked by the job service at submit, before anything is queued.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePath

from backend.algorithms.base import Algorithm, Params
from backend.algorithms.fragments import percentile_properties

SMALL_CNN = "small_cnn"


# name -> (default input size, smallest input size, the Keras notop ImageNet weights file name)
ARCHITECTURES: dict[str, tuple[int, int, str | None]] = {
    SMALL_CNN: (64, 16, None),
    "Xception": (299, 71, "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "VGG16": (224, 32, "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "VGG19": (224, 32, "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "ResNet50": (224, 32, "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "ResNet101": (224, 32, "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "ResNet152": (224, 32, "resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "InceptionV3": (299, 75, "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "DenseNet121": (224, 32, "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "DenseNet169": (224, 32, "densenet169_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "DenseNet201": (224, 32, "densenet201_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "InceptionResNetV2": (299, 75, "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "NASNetMobile": (224, 32, "NASNet-mobile-no-top.h5"),
    "NASNetLarge": (331, 32, "NASNet-large-no-top.h5"),
}
WEIGHT_SUFFIXES = (".h5", ".hdf5", ".keras")
MAX_INPUT_SIZE = 1024

# The label snapshot a classifier trains on; shared by every classifier algorithm.
SNAPSHOT_PROPERTIES: dict[str, dict] = {
    "label_snapshot": {
        "type": "string",
        "title": "Labels",
        "description": (
            "current: the labels when the job is submitted; as_of: the labels as they stood at a "
            "time; tagger: the labels one tagger's events add up to. Recorded with the model."
        ),
        "enum": ["current", "as_of", "tagger"],
        "default": "current",
    },
    "labels_as_of": {
        "type": "string",
        "title": "Labels as of",
        "description": "ISO 8601 time (UTC unless it names a zone), for the as_of snapshot.",
        "default": "",
        "maxLength": 64,
    },
    "labels_tagger": {
        "type": "string",
        "title": "Tagger",
        "description": "Whose labels, for the tagger snapshot.",
        "default": "",
        "maxLength": 200,
    },
}

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "architecture": {
            "type": "string",
            "title": "Architecture",
            "description": (
                "A Keras application network, or small_cnn: a small convolutional network that trains "
                "in minutes on a CPU."
            ),
            "enum": list(ARCHITECTURES),
            "default": SMALL_CNN,
            "x-architecture": True,
        },
        "image_size": {
            "type": "integer",
            "title": "Input size",
            "description": (
                "Images are made grayscale, resized to this many pixels a side and copied to 3 channels. "
                "0: the architecture's own size (224, 299 or 331; 64 for small_cnn). Smaller sizes are "
                "allowed down to each architecture's minimum (32; 71 Xception; 75 Inception)."
            ),
            "default": 0,
            "minimum": 0,
            "maximum": MAX_INPUT_SIZE,
            "x-architecture": True,
        },
        "weights": {
            "type": "string",
            "title": "Initial weights",
            "description": (
                "none: random start. imagenet: ImageNet weights from a file you placed on the server "
                "(the Keras 'notop' .h5 file; nothing is downloaded). local: any weights file of this "
                "network (.h5 / .keras)."
            ),
            "enum": ["none", "imagenet", "local"],
            "default": "none",
        },
        "weights_path": {
            "type": "string",
            "title": "Weights file",
            "description": "Path on the server, inside a data root or the artifact directory.",
            "default": "",
            "maxLength": 4096,
            "x-local-file": True,
        },
        **SNAPSHOT_PROPERTIES,
        "validation_fraction": {
            "type": "number",
            "title": "Validation fraction",
            "description": "Share of each class held out (stratified) for validation.",
            "default": 0.2,
            "minimum": 0,
            "maximum": 0.5,
        },
        "augment_rotation": {
            "type": "number",
            "title": "Random rotation (degrees)",
            "description": "Largest random rotation either way; 0 turns it off.",
            "default": 0.0,
            "minimum": 0,
            "maximum": 180,
        },
        "augment_hflip": {"type": "boolean", "title": "Random horizontal flips", "default": False},
        "augment_vflip": {"type": "boolean", "title": "Random vertical flips", "default": False},
        "seed": {
            "type": "integer",
            "title": "Seed",
            "description": "Fixes the weights' start, the split, the batch order and the augmentations.",
            "default": 0,
            "minimum": 0,
            "maximum": 2**31 - 1,
        },
        "loss": {
            "type": "string",
            "title": "Loss",
            "description": (
                "auto: categorical cross-entropy (softmax) for single-label datasets, binary "
                "cross-entropy (one sigmoid per class) for multi-label ones."
            ),
            "enum": ["auto", "categorical_crossentropy", "binary_crossentropy"],
            "default": "auto",
        },
        "optimizer": {
            "type": "string",
            "title": "Optimizer",
            "enum": ["adam", "adamw", "sgd", "rmsprop"],
            "default": "adam",
        },
        "learning_rate": {
            "type": "number",
            "title": "Learning rate",
            "default": 0.001,
            "exclusiveMinimum": 0,
            "maximum": 10,
        },
        "lr_schedule": {
            "type": "string",
            "title": "Learning-rate schedule",
            "description": "cosine: decays to 0 over the run (steadier final epochs); constant: fixed.",
            "enum": ["cosine", "constant"],
            "default": "cosine",
        },
        "momentum": {
            "type": "number",
            "title": "Momentum",
            "description": "Momentum of SGD and RMSprop (ignored by Adam and AdamW).",
            "default": 0.9,
            "minimum": 0,
            "maximum": 0.999,
        },
        "batch_size": {
            "type": "integer",
            "title": "Batch size",
            "default": 32,
            "minimum": 1,
            "maximum": 4096,
        },
        "epochs": {"type": "integer", "title": "Epochs", "default": 10, "minimum": 1, "maximum": 10000},
        "class_weights": {
            "type": "string",
            "title": "Class weights",
            "description": "balanced: weigh each class by n / (classes x n_class), for imbalanced labels.",
            "enum": ["none", "balanced"],
            "default": "none",
        },
        "log_transform": {
            "type": "boolean",
            "title": "Log scale",
            "description": (
                "Take log(r + 1e-12) of the min-max scaled image first (for patterns spanning decades; "
                "off by default: zeros such as detector gaps then dominate the percentile scaling)."
            ),
            "default": False,
        },
        **percentile_properties(),
    },
}

INFER_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "batch_size": {
            "type": "integer",
            "title": "Batch size",
            "description": "Images classified at a time.",
            "default": 128,
            "minimum": 1,
            "maximum": 8192,
        },
    },
}


def input_size(params: Params) -> int:
    """The input side length: the one asked for, or the architecture's default."""
    return int(params.get("image_size") or ARCHITECTURES[params["architecture"]][0])


def parse_time(text: str) -> datetime:
    """An ISO 8601 time as an aware datetime (UTC when no zone is given); ValueError otherwise."""
    from datetime import UTC

    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def snapshot_problems(params: Params) -> list[str]:
    """What is wrong with the label snapshot fields (``SNAPSHOT_PROPERTIES``)."""
    problems = []
    snapshot = params["label_snapshot"]
    if snapshot == "as_of":
        try:
            parse_time(params["labels_as_of"])
        except ValueError:
            problems.append(
                "labels as of needs an ISO 8601 time such as 2026-11-25T10:00:00Z, "
                f"got {params['labels_as_of']!r}"
            )
    elif params["labels_as_of"].strip():
        problems.append("a 'labels as of' time is given but the label snapshot is not as_of")
    if snapshot == "tagger" and not params["labels_tagger"].strip():
        problems.append("the tagger snapshot needs the tagger whose labels to use")
    elif snapshot != "tagger" and params["labels_tagger"].strip():
        problems.append("a tagger is given but the label snapshot is not 'tagger'")
    return problems


def check(params: Params) -> list[str]:
    problems = []
    arch = params["architecture"]
    _, smallest, imagenet_file = ARCHITECTURES[arch]
    size = input_size(params)
    if size < smallest:
        problems.append(
            f"{arch} needs an input of at least {smallest}x{smallest} pixels, got {size} "
            f"(use an input size of {smallest} or more, or 0 for its default)"
        )
    if params["percentile_low"] >= params["percentile_high"]:
        problems.append(
            f"the low percentile ({params['percentile_low']}) must be below the high percentile "
            f"({params['percentile_high']})"
        )
    path = params["weights_path"].strip()
    if params["weights"] == "imagenet":
        if imagenet_file is None:
            problems.append("small_cnn has no ImageNet weights: use weights none, or local with a file")
        elif not path:
            problems.append(
                f"ImageNet weights for {arch} are not downloaded by Labelwise: place the file "
                f"{imagenet_file} on the server (inside a data root) and give its path as the weights file"
            )
    elif params["weights"] == "local" and not path:
        problems.append("weights 'local' needs the path of a weights file on the server")
    elif params["weights"] == "none" and path:
        problems.append("a weights file is given but weights is 'none': choose imagenet or local")
    if path and not path.lower().endswith(WEIGHT_SUFFIXES):
        kinds = " / ".join(WEIGHT_SUFFIXES)
        problems.append(f"the weights file must be a Keras {kinds} file, not {PurePath(path).name}")
    problems.extend(snapshot_problems(params))
    return problems


def min_items(params: Params) -> int:
    """Two labeled items (of two classes, checked at submit), plus validation items when held out."""
    return 4 if params["validation_fraction"] > 0 else 2


CLASSIFIER = Algorithm(
    key="classifier",
    kind="classifier",
    title="Image classifier (Keras)",
    description=(
        "A convolutional classifier trained on the labels: a Keras application network (Xception, "
        "VGG, ResNet, Inception, DenseNet, NASNet) or a small CNN for CPUs. Gives class "
        "probabilities for probability labeling and penultimate-layer features for similarity."
    ),
    schema=SCHEMA,
    entry_point="workers.algorithms.classifier",
    check=check,
    infer_schema=INFER_SCHEMA,
    min_items=min_items,
    needs_labels=True,
    outputs=("probabilities", "vectors"),
)
