"""Every architecture builds (weights=None) at its smallest allowed input, and the minimum the
registry checks is the one Keras itself enforces. A build only, no training."""

from __future__ import annotations

import pytest

from backend.algorithms.classifier import ARCHITECTURES, SCHEMA, SMALL_CNN, check
from backend.algorithms.validation import with_defaults

pytestmark = pytest.mark.ml


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    import keras

    yield
    keras.backend.clear_session()  # drop the graph of each big network


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_each_architecture_builds_at_its_smallest_input_and_keras_refuses_one_pixel_less(architecture):
    import keras

    from workers.algorithms.classifier_net import FEATURES, build, with_features

    if architecture.startswith("NASNet") and keras.backend.backend() != "tensorflow":
        pytest.skip("Keras offers NASNet on TensorFlow only")
    _, smallest, _ = ARCHITECTURES[architecture]
    params = with_defaults(SCHEMA, {"architecture": architecture, "image_size": smallest})
    assert check(params) == []
    model = build(architecture, smallest, 3)
    assert model.input_shape == (None, smallest, smallest, 1)
    assert model.output_shape == (None, 3)
    features, probabilities = with_features(model).outputs
    assert probabilities.shape[-1] == 3
    assert features.shape[-1] == model.get_layer(FEATURES).output.shape[-1] >= 128
    assert any("needs an input of at least" in p for p in check({**params, "image_size": smallest - 1}))
    if architecture != SMALL_CNN:
        with pytest.raises(ValueError, match=str(smallest)):
            getattr(keras.applications, architecture)(
                include_top=False, weights=None, input_shape=(smallest - 1, smallest - 1, 3)
            )
