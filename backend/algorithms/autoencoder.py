"""Convolutional autoencoder (PyTorch): latent vectors for similarity search, tunable like the paper's.

The network (``workers/algorithms/autoencoder_net.py``): images resized to M x N; ``depth`` encoder
levels with B, 2B, ..., 2^(d-1)B channels, each halving the resolution; a linear layer from the
flattened bottleneck to the latent vector of length L; a mirrored decoder back to M x N.

This module is plain data and arithmetic: the web process validates parameters (and refuses
networks that cannot be built or would not fit in memory) without importing torch.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from backend.algorithms.base import Algorithm, Params
from backend.algorithms.fragments import percentile_properties
from backend.algorithms.intensity import INTENSITY_PROPERTIES, with_infer_intensity

# Parameters that fix the network's shape: a model can only be fine-tuned into the same shape.
# The job service compares the fields marked "x-architecture" against the source model's.
ARCHITECTURE = ("image_height", "image_width", "base_channels", "depth", "latent_size")

MAX_MEMORY_BYTES = 24 * 2**30  # a training run estimated above this is refused: no worker has it
MAX_PARAMETERS = 500_000_000

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "image_height": {
            "type": "integer",
            "title": "Input height (M)",
            "description": "Images are made grayscale and resized to M x N pixels before training.",
            "default": 64,
            "minimum": 4,
            "maximum": 2048,
            "x-architecture": True,
        },
        "image_width": {
            "type": "integer",
            "title": "Input width (N)",
            "description": "Width of the resized images; M and N may differ.",
            "default": 64,
            "minimum": 4,
            "maximum": 2048,
            "x-architecture": True,
        },
        "base_channels": {
            "type": "integer",
            "title": "Base channels (B)",
            "description": "Channels of the first encoder level; each deeper level doubles them.",
            "default": 16,
            "minimum": 1,
            "maximum": 512,
            "x-architecture": True,
        },
        "depth": {
            "type": "integer",
            "title": "Depth (d)",
            "description": "Encoder levels, each halving the resolution; M/2^d and N/2^d must stay above 1.",
            "default": 3,
            "minimum": 1,
            "maximum": 10,
            "x-architecture": True,
        },
        "latent_size": {
            "type": "integer",
            "title": "Latent size (L)",
            "description": "Length of each latent (feature) vector used for similarity search.",
            "default": 128,
            "minimum": 2,
            "maximum": 8192,
            "x-architecture": True,
        },
        "optimizer": {
            "type": "string",
            "title": "Optimizer",
            "enum": ["adam", "adamw", "sgd", "rmsprop"],
            "default": "adam",
        },
        "momentum": {
            "type": "number",
            "title": "Momentum",
            "description": "Momentum of SGD and RMSprop (ignored by Adam and AdamW).",
            "default": 0.9,
            "minimum": 0,
            "maximum": 0.999,
        },
        "weight_decay": {
            "type": "number",
            "title": "Weight decay",
            "description": "L2 penalty (decoupled for AdamW).",
            "default": 0.0,
            "minimum": 0,
            "maximum": 1,
        },
        "criterion": {
            "type": "string",
            "title": "Loss",
            "description": "Reconstruction loss between the output and the target image.",
            "enum": ["mse", "l1", "smooth_l1"],
            "default": "mse",
        },
        "learning_rate": {
            "type": "number",
            "title": "Learning rate",
            "default": 0.001,
            "exclusiveMinimum": 0,
            "maximum": 10,
        },
        "lr_step_size": {
            "type": "integer",
            "title": "LR step (epochs)",
            "description": "The learning rate is multiplied by the LR factor every this many epochs.",
            "default": 10,
            "minimum": 1,
            "maximum": 10000,
        },
        "lr_factor": {
            "type": "number",
            "title": "LR factor",
            "description": "Multiplier of the step scheduler; 1 keeps the learning rate constant.",
            "default": 0.5,
            "exclusiveMinimum": 0,
            "maximum": 1,
        },
        "epochs": {
            "type": "integer",
            "title": "Epochs",
            "default": 30,
            "minimum": 1,
            "maximum": 10000,
        },
        "batch_size": {
            "type": "integer",
            "title": "Batch size",
            "default": 32,
            "minimum": 1,
            "maximum": 4096,
        },
        "validation_fraction": {
            "type": "number",
            "title": "Validation fraction",
            "description": "Share of items held out to measure the validation loss and pick the best epoch.",
            "default": 0.1,
            "minimum": 0,
            "maximum": 0.5,
        },
        "seed": {
            "type": "integer",
            "title": "Seed",
            "description": "Fixes the weights' start, the split, the batch order and the augmentations.",
            "default": 0,
            "minimum": 0,
            "maximum": 2**31 - 1,
        },
        "early_stopping_patience": {
            "type": "integer",
            "title": "Early stopping patience",
            "description": "Stop after this many epochs without a lower validation loss; 0: never.",
            "default": 0,
            "minimum": 0,
            "maximum": 10000,
        },
        "augment_hflip": {
            "type": "boolean",
            "title": "Random horizontal flips",
            "default": True,
        },
        "augment_vflip": {
            "type": "boolean",
            "title": "Random vertical flips",
            "default": True,
        },
        "augment_brightness": {
            "type": "number",
            "title": "Brightness change",
            "description": (
                "Largest random brightness shift, as a share of the [0, 1] range; 0 turns it off. "
                "(Hue and saturation changes are not offered: images are read as grayscale.)"
            ),
            "default": 0.1,
            "minimum": 0,
            "maximum": 1,
        },
        "augment_contrast": {
            "type": "number",
            "title": "Contrast change",
            "description": "Largest random contrast change (factor 1 +- this, around the mean); 0: off.",
            "default": 0.2,
            "minimum": 0,
            "maximum": 1,
        },
        "augment_target": {
            "type": "string",
            "title": "Augment",
            "description": (
                "input: the network rebuilds the original from an augmented input (embeddings that "
                "ignore the augmentations); input_and_target: it rebuilds the augmented image."
            ),
            "enum": ["input", "input_and_target"],
            "default": "input",
        },
        "log_transform": {
            "type": "boolean",
            "title": "Log scale",
            "description": (
                "Take log(r + 1e-12) of the min-max scaled image first (scattering patterns). Off by "
                "default: on detectors whose gaps and beam stop read 0 it maps most pixels to white."
            ),
            "default": False,
        },
        **percentile_properties(),
        "fine_tune_from": {
            "type": "integer",
            "title": "Fine-tune from model",
            "description": (
                "Id of a ready autoencoder of the same shape (M, N, B, d, L) whose weights training "
                "starts from; 0 trains from random weights."
            ),
            "default": 0,
            "minimum": 0,
        },
    },
}
SCHEMA["properties"].update(INTENSITY_PROPERTIES)  # absolute intensity, as every extractor

INFER_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "batch_size": {
            "type": "integer",
            "title": "Batch size",
            "description": "Images encoded at a time.",
            "default": 128,
            "minimum": 1,
            "maximum": 8192,
        },
    },
}


def level_sizes(size: int, depth: int) -> list[int]:
    """Side lengths after each encoder level: a stride-2 convolution (kernel 3, padding 1) gives ceil(s/2)."""
    sizes = [size]
    for _ in range(depth):
        sizes.append(math.ceil(sizes[-1] / 2))
    return sizes


def parameter_count(params: Params) -> int:
    """Weights and biases of the network these parameters describe."""
    b, d, latent = params["base_channels"], params["depth"], params["latent_size"]
    channels = [1] + [b * 2**i for i in range(d)]
    convs = sum(9 * cin * cout + cout for cin, cout in itertools.pairwise(channels))
    convs += sum(9 * cin * cout + cin for cin, cout in itertools.pairwise(channels))  # decoder
    flat = bottleneck_features(params)
    return convs + 2 * flat * latent + latent + flat


def bottleneck_features(params: Params) -> int:
    d = params["depth"]
    h = level_sizes(params["image_height"], d)[-1]
    w = level_sizes(params["image_width"], d)[-1]
    return h * w * params["base_channels"] * 2 ** (d - 1)


def memory_estimate(params: Params) -> int:
    """Rough bytes a training step needs (float32): weights, gradients, two optimizer states,
    and the batch's activations kept for the backward pass (with their gradients)."""
    d, b = params["depth"], params["base_channels"]
    hs, ws = level_sizes(params["image_height"], d), level_sizes(params["image_width"], d)
    per_image = hs[0] * ws[0] * 2  # input and output
    per_image += sum(hs[i + 1] * ws[i + 1] * b * 2**i for i in range(d)) * 2  # encoder + decoder levels
    per_image += 2 * params["latent_size"] + bottleneck_features(params)
    activations = per_image * params["batch_size"] * 3  # outputs, pre-activations, gradients
    return 4 * (4 * parameter_count(params) + activations)


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check(params: Params) -> list[str]:
    problems = []
    if params["percentile_low"] >= params["percentile_high"]:
        problems.append(
            f"the low percentile ({params['percentile_low']}) must be below the high percentile "
            f"({params['percentile_high']})"
        )
    m, n, d = params["image_height"], params["image_width"], params["depth"]
    if m / 2**d <= 1 or n / 2**d <= 1:
        fits = max(1, math.ceil(math.log2(min(m, n))) - 1)
        problems.append(
            f"depth {d} halves a {m}x{n} input {d} times, leaving {m / 2**d:g}x{n / 2**d:g} pixels: "
            f"M/2^d and N/2^d must stay above 1 (use depth at most {fits} or a larger input)"
        )
        return problems  # the size estimates below assume a buildable network
    if params["early_stopping_patience"] > 0 and params["validation_fraction"] == 0:
        problems.append("early stopping watches the validation loss: set a validation fraction above 0")
    count = parameter_count(params)
    if count > MAX_PARAMETERS:
        problems.append(
            f"this network would have {count:,} weights (more than {MAX_PARAMETERS:,}), mostly in the "
            f"{bottleneck_features(params):,} x {params['latent_size']} bottleneck layers: "
            "use more depth, fewer base channels, a smaller input or a smaller latent size"
        )
    elif (needed := memory_estimate(params)) > MAX_MEMORY_BYTES:
        problems.append(
            f"training would need about {_gib(needed)} of memory (limit {_gib(MAX_MEMORY_BYTES)}): "
            "use a smaller batch size, input size or number of base channels"
        )
    return problems


def min_items(params: Params) -> int:
    """One training item, plus one for validation when a share is held out."""
    return 2 if params["validation_fraction"] > 0 else 1


AUTOENCODER = Algorithm(
    key="autoencoder",
    kind="feature_extractor",
    title="Convolutional autoencoder",
    description=(
        "A convolutional autoencoder trained to rebuild the images (self-supervised); its latent "
        "vectors place similar images near each other. Runs on CUDA with mixed precision when "
        "present, else on the CPU; can fine-tune a model trained on another dataset."
    ),
    schema=SCHEMA,
    entry_point="workers.algorithms.autoencoder",
    check=check,
    infer_schema=with_infer_intensity(INFER_SCHEMA),
    min_items=min_items,
    outputs=("vectors", "reconstructions"),
    suggestion_rank=3,
)
