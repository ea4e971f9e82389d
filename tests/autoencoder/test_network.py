"""The network's shape for several (size, depth, channels, latent) settings, square or not."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.ml

torch = pytest.importorskip("torch")

from backend.algorithms import validate_parameters  # noqa: E402
from backend.algorithms.autoencoder import parameter_count  # noqa: E402
from workers.algorithms.autoencoder_net import Architecture, build  # noqa: E402

SHAPES = [  # (M, N, B, d, L)
    (64, 64, 32, 3, 300),
    (256, 256, 8, 5, 300),
    (32, 48, 4, 2, 16),
    (48, 32, 8, 3, 20),
    (37, 21, 3, 3, 5),  # odd sizes: each level rounds up, the decoder restores them exactly
    (16, 16, 1, 1, 2),
]


@pytest.mark.parametrize(("m", "n", "b", "d", "latent"), SHAPES)
def test_encoder_gives_latent_vectors_and_decoder_restores_the_input_shape(m, n, b, d, latent):
    params = validate_parameters(
        "autoencoder",
        {"image_height": m, "image_width": n, "base_channels": b, "depth": d, "latent_size": latent},
    )
    net = build(Architecture.from_params(params), seed=0)
    images = torch.rand(3, 1, m, n)
    codes = net.encode(images)
    assert codes.shape == (3, latent)
    restored = net.decode(codes)
    assert restored.shape == (3, 1, m, n)
    assert float(restored.detach().min()) >= 0 and float(restored.detach().max()) <= 1  # sigmoid output
    convs = [layer for layer in net.encoder if isinstance(layer, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [b * 2**i for i in range(d)]
    assert sum(t.numel() for t in net.parameters()) == parameter_count(params)  # the web side's count


def test_the_same_seed_gives_the_same_weights():
    arch = Architecture(32, 32, 4, 2, 8)
    one, two, other = build(arch, 1), build(arch, 1), build(arch, 2)
    for a, b in zip(one.parameters(), two.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not all(torch.equal(a, c) for a, c in zip(one.parameters(), other.parameters(), strict=True))
