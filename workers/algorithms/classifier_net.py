"""The classifier networks (Keras 3): a Keras application or the small CNN, behind one input stem.

Every network takes (size, size, 1) grayscale images in [0, 1]. The stem inside the model copies
gray to 3 channels and applies the backbone's own ImageNet preprocessing as a ``Normalization``
layer, so a saved ``.keras`` file is complete: inference feeds it the same [0, 1] images and
nothing else has to be remembered. (Augmentations happen in the data, not in the model: Keras's
seeded random layers fail on the torch backend.)
The layer named ``features`` holds the penultimate-layer vector (the pooled backbone output).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

SMALL_CNN = "small_cnn"
SMALL_CNN_FILTERS = (32, 64, 128, 128)
SMALL_CNN_CONVS = 2  # convolutions per block (one: ~0.87 on the demo bench, two: ~0.94)
FEATURES, OUTPUT = "features", "probabilities"

# Per-channel mean and variance (on images in [0, 1]) of each family's preprocess_input:
# caffe: x*255 - BGR mean; tf: x*2 - 1; torch: (x - mean) / std.
_CAFFE = ([103.939 / 255, 116.779 / 255, 123.68 / 255], [(1 / 255) ** 2] * 3)
_TF = ([0.5] * 3, [0.25] * 3)
_TORCH = ([0.485, 0.456, 0.406], [0.229**2, 0.224**2, 0.225**2])
PREPROCESSING = {
    SMALL_CNN: _TF,
    "Xception": _TF,
    "VGG16": _CAFFE,
    "VGG19": _CAFFE,
    "ResNet50": _CAFFE,
    "ResNet101": _CAFFE,
    "ResNet152": _CAFFE,
    "InceptionV3": _TF,
    "DenseNet121": _TORCH,
    "DenseNet169": _TORCH,
    "DenseNet201": _TORCH,
    "InceptionResNetV2": _TF,
    "NASNetMobile": _TF,
    "NASNetLarge": _TF,
}


def small_cnn(size: int) -> Any:
    """Four conv / batch-norm / ReLU / max-pool blocks and global average pooling: fast on a CPU."""
    import keras
    from keras import layers

    inputs = keras.Input((size, size, 3))
    x = inputs
    for filters in SMALL_CNN_FILTERS:
        for _ in range(SMALL_CNN_CONVS):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization(momentum=0.9)(x)  # settles within the few steps of small sets
            x = layers.ReLU()(x)
        x = layers.MaxPooling2D(padding="same")(x)
    return keras.Model(inputs, layers.GlobalAveragePooling2D()(x), name=SMALL_CNN)


def backbone(architecture: str, size: int, weights_path: str | None = None) -> Any:
    """The feature extractor without its top, pooled to a vector; weights from a local file or random."""
    import keras

    if architecture == SMALL_CNN:
        model = small_cnn(size)
        if weights_path:
            model.load_weights(weights_path)
        return model
    if weights_path and not Path(weights_path).is_file():
        raise FileNotFoundError(f"weights file {weights_path} does not exist (nothing is downloaded)")
    factory = getattr(keras.applications, architecture)
    return factory(
        include_top=False, weights=weights_path or None, input_shape=(size, size, 3), pooling="avg"
    )


def build(
    architecture: str,
    size: int,
    classes: int,
    *,
    activation: str = "softmax",
    weights_path: str | None = None,
    dropout: float = 0.2,
    seed: int = 0,
) -> Any:
    """The whole classifier: stem (3 channels, preprocessing) -> backbone -> features -> head."""
    import keras
    from keras import layers

    inputs = keras.Input((size, size, 1), name="image")
    x = layers.Concatenate(name="gray_to_rgb")([inputs, inputs, inputs])
    mean, variance = PREPROCESSING[architecture]
    x = layers.Normalization(mean=mean, variance=variance, name="preprocess")(x)
    features = layers.Identity(name=FEATURES)(backbone(architecture, size, weights_path)(x))
    # Unseeded: a seeded layer fails on the torch backend; keras.utils.set_random_seed seeds it anyway.
    x = layers.Dropout(dropout)(features) if dropout > 0 else features
    outputs = layers.Dense(classes, activation=activation, name=OUTPUT, dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"classifier_{architecture.lower()}")


def with_features(model: Any) -> Any:
    """A model giving (features, probabilities) of a trained classifier in one pass."""
    import keras

    return keras.Model(model.inputs, [model.get_layer(FEATURES).output, model.output])


def keras_device(device: str) -> str:
    """The job's device (``cpu``, ``cuda``, ``cuda:N``) as Keras names it for the active backend."""
    import keras

    index = device.split(":", 1)[1] if ":" in device else "0"
    gpu = device.startswith("cuda")
    if keras.backend.backend() == "tensorflow":
        return f"/GPU:{index}" if gpu else "/CPU:0"
    return f"gpu:{index}" if gpu else "cpu:0"


def device_scope(device: str) -> AbstractContextManager:
    """Where Keras places the model. On torch a CPU scope is left out: torch computes on the CPU by
    default, and Keras 3.15's torch CPU scope breaks layers that hold a seed (Dropout)."""
    import keras

    if keras.backend.backend() != "tensorflow" and not device.startswith("cuda"):
        return nullcontext()
    return keras.device(keras_device(device))
