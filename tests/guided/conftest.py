"""The guided-labeling fixtures and helpers, from tests/helpers/guided.py (shared with other packages)."""

from __future__ import annotations

import tests.guided.fixed_classifier  # noqa: F401  (registers the test classifier)
from tests.helpers.guided import (  # noqa: F401
    API,
    PCA_PARAMS,
    add_class,
    classifier_model,
    dataset,
    exact_ranking,
    feature_dir,
    guided_settings,
    item_ids,
    latest_infer,
    pca_model,
    run_job,
    server,
    tag,
)
