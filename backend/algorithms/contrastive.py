"""Self-supervised contrastive encoder (SimCLR): features learned from every item, no labels needed.

Two augmented views of each image are pulled together and pushed away from the other images of
the batch (NT-Xent loss on a small projection head); the vectors are the encoder's pooled
features under the head. The augmentations say what the features should ignore, so each is a
parameter: 90-degree turns and flips and arbitrary rotation (both off unless the user says
orientation means nothing: an invariance trained in cannot be taken out again, and where
orientation is the class, as for digits, it erases it), random resized crops, intensity scale
and gamma, Poisson and Gaussian noise, blur. The network (``workers/algorithms/contrastive_net.py``):
a 3x3 stem of B channels, then d levels of a 3x3 stride-2 convolution with batch norm, doubling
the channels; global average pooling gives vectors of length B * 2^d whatever the working size,
or (``pooling``: grid, the default where orientation is not augmented away) the means over the
four quarters, 4 x B * 2^d.
Plain data here: the web process validates without importing torch.
"""

from __future__ import annotations

from backend.algorithms.base import Algorithm, Params
from backend.algorithms.fragments import percentile_properties
from backend.algorithms.intensity import with_infer_intensity, with_intensity

ARCHITECTURE = ("image_size", "base_channels", "depth", "projection_size")
MAX_PARAMETERS = 100_000_000

SCHEMA = with_intensity(
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "image_size": {
                "type": "integer",
                "title": "Working size",
                "description": "Images are made grayscale and resized to this many pixels a side.",
                "default": 32,
                "minimum": 8,
                "maximum": 1024,
                "x-architecture": True,
            },
            "base_channels": {
                "type": "integer",
                "title": "Base channels (B)",
                "description": "Channels of the stem; each level doubles them. Vectors have B * 2^d values.",
                "default": 16,
                "minimum": 2,
                "maximum": 256,
                "x-architecture": True,
            },
            "depth": {
                "type": "integer",
                "title": "Depth (d)",
                "description": "Levels, each halving the resolution; working size / 2^d must be 2 or more.",
                "default": 3,
                "minimum": 1,
                "maximum": 8,
                "x-architecture": True,
            },
            "projection_size": {
                "type": "integer",
                "title": "Projection size",
                "description": "Output of the projection head the loss compares (not the stored vectors).",
                "default": 64,
                "minimum": 8,
                "maximum": 4096,
                "x-architecture": True,
            },
            "pooling": {
                "type": "string",
                "title": "Vector pooling",
                "enum": ["auto", "global", "grid"],
                "description": "How the encoder's last feature map becomes the stored vector. global: "
                "each channel's mean over the image (B * 2^d values), blind to where a feature sits; "
                "grid: its means over the four quarters (4 x B * 2^d), which keeps the layout, for "
                "data whose orientation matters (digits, text); auto: grid when neither turns and "
                "flips nor rotation are augmented, else global. Training is the same either way.",
                "default": "auto",
            },
            "temperature": {
                "type": "number",
                "title": "Temperature",
                "description": "Of the NT-Xent loss: lower weighs the hardest negatives more.",
                "default": 0.2,
                "exclusiveMinimum": 0,
                "maximum": 10,
            },
            "learning_rate": {
                "type": "number",
                "title": "Learning rate",
                "description": "Of AdamW, annealed to zero along a cosine over the epochs.",
                "default": 0.002,
                "exclusiveMinimum": 0,
                "maximum": 10,
            },
            "weight_decay": {
                "type": "number",
                "title": "Weight decay",
                "default": 0.0001,
                "minimum": 0,
                "maximum": 1,
            },
            "epochs": {"type": "integer", "title": "Epochs", "default": 30, "minimum": 1, "maximum": 10000},
            "batch_size": {
                "type": "integer",
                "title": "Batch size",
                "description": "Images per step; each is contrasted with the other 2 x batch - 2 views. "
                "A dataset smaller than a batch trains in one batch of all its items.",
                "default": 256,
                "minimum": 2,
                "maximum": 8192,
            },
            "min_steps_per_epoch": {
                "type": "integer",
                "title": "Fewest steps per epoch",
                "description": "A set of fewer than this many batches trains in smaller batches (down to "
                "32 images) so that each epoch takes this many steps: SimCLR learns from steps, and a "
                "few hundred items in batches of 256 give it two an epoch; 0: the batch size as set.",
                "default": 8,
                "minimum": 0,
                "maximum": 1000,
            },
            "validation_fraction": {
                "type": "number",
                "title": "Validation fraction",
                "description": "Share of items held out: the loss on fixed views picks the best epoch.",
                "default": 0.1,
                "minimum": 0,
                "maximum": 0.5,
            },
            "early_stopping_patience": {
                "type": "integer",
                "title": "Early stopping patience",
                "description": "Stop after this many epochs without a lower validation loss; 0: never.",
                "default": 0,
                "minimum": 0,
                "maximum": 10000,
            },
            "seed": {
                "type": "integer",
                "title": "Seed",
                "description": "Fixes the weights' start, the split, the batch order and every augmentation.",
                "default": 0,
                "minimum": 0,
                "maximum": 2**31 - 1,
            },
            "augment_flips": {
                "type": "boolean",
                "title": "90-degree turns and flips",
                "description": "The eight symmetries of the square: turn on where orientation means "
                "nothing (cells, most scattering patterns). Off by default: where orientation is the "
                "class (digits, text, oriented fibres) these views erase it, and leaving it in costs "
                "little where it means nothing.",
                "default": False,
            },
            "augment_rotation": {
                "type": "boolean",
                "title": "Any rotation",
                "description": "Rotate by any angle. Only where the data are rotation-invariant.",
                "default": False,
            },
            "crop_scale_min": {
                "type": "number",
                "title": "Smallest crop",
                "description": "Random resized crops keep this share of the image area or more; 1: no crops.",
                "default": 0.5,
                "minimum": 0.05,
                "maximum": 1,
            },
            "intensity_scale": {
                "type": "number",
                "title": "Intensity scale",
                "description": "Multiply each view by 1 +- up to this; 0: off.",
                "default": 0.2,
                "minimum": 0,
                "maximum": 1,
            },
            "gamma": {
                "type": "number",
                "title": "Gamma change",
                "description": "Raise each view to a power between 1/(1 + g) and 1 + g; 0: off.",
                "default": 0.3,
                "minimum": 0,
                "maximum": 3,
            },
            "noise_gaussian": {
                "type": "number",
                "title": "Gaussian noise",
                "description": "Largest standard deviation of added noise, on the [0, 1] scale; 0: off.",
                "default": 0.03,
                "minimum": 0,
                "maximum": 1,
            },
            "noise_poisson": {
                "type": "number",
                "title": "Poisson noise (counts)",
                "description": "Redraw each view as counts: Poisson(x * this) / this, fewest counts for the "
                "strongest noise; 0: off.",
                "default": 0,
                "minimum": 0,
                "maximum": 100000,
            },
            "blur_sigma": {
                "type": "number",
                "title": "Blur",
                "description": "Largest Gaussian blur, in working-size pixels (half the views); 0: off.",
                "default": 1.0,
                "minimum": 0,
                "maximum": 10,
            },
            "log_transform": {
                "type": "boolean",
                "title": "Log scale",
                "description": "Take log(r + 1e-12) of the min-max scaled image first (scattering patterns).",
                "default": False,
            },
            **percentile_properties(),
            "fine_tune_from": {
                "type": "integer",
                "title": "Fine-tune from model",
                "description": "Id of a ready contrastive model of the same shape (working size, B, d, "
                "projection size) whose weights training starts from; 0 trains from random weights.",
                "default": 0,
                "minimum": 0,
            },
        },
    }
)

INFER_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "batch_size": {
            "type": "integer",
            "title": "Batch size",
            "description": "Images encoded at a time.",
            "default": 256,
            "minimum": 1,
            "maximum": 8192,
        },
    },
}


def grid_pooling(params: Params) -> bool:
    """Whether the vectors keep the 2x2 layout: asked for, or (auto) orientation is not augmented away."""
    pooling = params.get("pooling", "auto")
    if pooling == "auto":
        return not (params.get("augment_flips", False) or params.get("augment_rotation", False))
    return bool(pooling == "grid")


def vector_length(params: Params) -> int:
    return params["base_channels"] * 2 ** params["depth"] * (4 if grid_pooling(params) else 1)


def parameter_count(params: Params) -> int:
    """Weights of the encoder and projection head (batch norm included)."""
    b, d = params["base_channels"], params["depth"]
    count = 9 * b + 2 * b
    channels = b
    for _ in range(d):
        out = channels * 2
        count += 9 * channels * out + 2 * out
        channels = out
    hidden = channels
    return (
        count
        + channels * hidden
        + hidden
        + 2 * hidden
        + hidden * params["projection_size"]
        + params["projection_size"]
    )


def check(params: Params) -> list[str]:
    problems = []
    if params["percentile_low"] >= params["percentile_high"]:
        problems.append(
            f"the low percentile ({params['percentile_low']}) must be below the high percentile "
            f"({params['percentile_high']})"
        )
    size, d = params["image_size"], params["depth"]
    if size / 2**d < 2:
        fits = max(1, (size // 2).bit_length() - 1)
        problems.append(
            f"depth {d} halves a {size}-pixel working size {d} times, leaving {size / 2**d:g} pixels: "
            f"keep size / 2^d at 2 or more (use depth at most {fits} or a larger working size)"
        )
    if params["early_stopping_patience"] > 0 and params["validation_fraction"] == 0:
        problems.append("early stopping watches the validation loss: set a validation fraction above 0")
    if (count := parameter_count(params)) > MAX_PARAMETERS:
        problems.append(
            f"this network would have {count:,} weights (more than {MAX_PARAMETERS:,}): "
            "use fewer base channels or less depth"
        )
    return problems


def min_items(params: Params) -> int:
    """Two training items (a contrast needs another image), plus one for validation when held out."""
    return 3 if params["validation_fraction"] > 0 else 2


CONTRASTIVE = Algorithm(
    key="contrastive",
    kind="feature_extractor",
    title="Self-supervised contrastive encoder (SimCLR)",
    description=(
        "A small convolutional encoder trained without labels to give two augmented views of "
        "an image the same vector and other images different ones. The augmentations state what "
        "should not matter (orientation, crop, brightness, noise, blur). Runs on CUDA with mixed "
        "precision when present, else on the CPU; can fine-tune an earlier model."
    ),
    schema=SCHEMA,
    entry_point="workers.algorithms.contrastive",
    check=check,
    infer_schema=with_infer_intensity(INFER_SCHEMA),
    min_items=min_items,
    suggestion_rank=4,  # with no labels the train page suggests this first (issue 17)
)
