"""The queue's numpy half on generated arrays: batch cuts and their precision, k-center reaching a
rare group early, k-means centres covering every group, margins."""

from __future__ import annotations

import numpy as np
import pytest

from backend.guided import suggest_math as sm
from backend.guided.heldout import HeldOut, estimate_batch, with_labeled_since, with_rejections


def test_a_cut_stops_where_the_held_out_items_go_wrong():
    scores = np.linspace(0.99, 0.5, 400)
    # held-out: right above 0.8, mostly wrong below
    held = np.linspace(0.99, 0.5, 200)
    right = held >= 0.8
    cut = sm.best_cut(scores, sm.Calibration(held, right, "held-out"), sm.PROBABILITY_SIZES, 0.9, True)
    assert cut is not None and cut.threshold >= 0.75
    assert cut.precision >= 0.9 and cut.source == "held-out"
    assert cut.expected_labels == cut.count * cut.precision
    assert cut.expected_actions == 1 + cut.count * (1 - cut.precision)
    # all wrong: no batch at all
    none = sm.best_cut(scores, sm.Calibration(held, np.zeros(200, bool), "held-out"), (8, 16), 0.8, True)
    assert none is None


def test_thin_support_leans_on_the_next_held_out_items_below():
    calibration = sm.Calibration(np.asarray([0.7, 0.6, 0.55]), np.asarray([True, True, False]), "h")
    precision, support = calibration.at(np.asarray([0.95]), np.asarray([0.9]))
    assert support[0] == 3  # none reaches 0.95: the three below count (a lower bound)
    assert abs(precision[0] - (2 + 2 * 0.9) / (3 + 2)) < 1e-9


def test_probability_batches_leave_labeled_items_and_other_classes_out():
    probs = np.asarray([[0.95, 0.05], [0.9, 0.1], [0.2, 0.8], [0.97, 0.03]], np.float32)
    ids = np.asarray([10, 11, 12, 13])
    unlabeled = np.asarray([True, True, True, False])
    batches = sm.probability_batches(ids, probs, [1, 2], unlabeled, None, None, classes={1, 2})
    by_class = {b.label_id: b.item_ids for b in batches}
    assert by_class[1] == [10, 11] and by_class.get(2, [12]) == [12]


def test_k_center_reaches_a_rare_group_among_the_first_picks():
    rng = np.random.default_rng(0)
    common = rng.normal(0, 1, (990, 8)).astype(np.float32)
    rare = rng.normal(0, 0.2, (10, 8)).astype(np.float32) + 12.0
    points = np.vstack([common, rare])
    labeled = common[:20]
    picks = sm.k_center(points, labeled, 3)
    assert any(p >= 990 for p in picks)
    # uncertainty weights steer it among comparable points
    weights = np.zeros(len(points), np.float32)
    weights[500] = 1.0
    assert sm.k_center(points, labeled, 1, weights) == [500]


def test_k_means_centres_cover_every_group():
    rng = np.random.default_rng(1)
    centres = np.eye(4, dtype=np.float32) * 10
    group = np.repeat(np.arange(4), 50)
    points = centres[group] + rng.normal(0, 0.5, (200, 4)).astype(np.float32)
    picks = sm.k_means_centres(points, 4, seed=0)
    assert sorted(group[picks].tolist()) == [0, 1, 2, 3]


def test_margins_and_rows_of():
    m = sm.margins(np.asarray([[0.5, 0.3, 0.2], [0.9, 0.05, 0.05]], np.float32))
    assert np.allclose(m, [0.2, 0.85])
    assert sm.rows_of(np.asarray([7, 3, 9]), np.asarray([9, 4, 7])).tolist() == [2, -1, 0]
    assert sm.spread(3, 10).tolist() == [0, 4, 9] and sm.spread(5, 3).tolist() == [0, 1, 2]


def test_neighbour_votes_hold_a_probability_batchs_fitted_promise_down():
    """``votes`` (bench promises' "+votes" way, not the queue's): a batch whose candidates' labeled
    neighbours vote 0.6 for the class promises no more than that, whatever the fit says."""
    rng = np.random.default_rng(3)
    n = 4000
    probs = np.clip(rng.beta(8, 2, n), 0.5, 0.999).astype(np.float32)
    probs = np.stack([probs, 1 - probs], axis=1)
    truth = rng.random(n) < probs[:, 0]  # a calibrated model: class 1 at its probability
    ids = np.arange(n, dtype=np.int64)
    held = ids < 1000
    args = (ids, probs, [1, 2], ~held, (ids[held], probs[held], [1, 2]), np.where(truth[held], 1, 2))
    plain = {b.label_id: b for b in sm.probability_batches(*args, classes={1})}
    capped = {
        b.label_id: b
        for b in sm.probability_batches(
            *args, classes={1}, votes=lambda label_id, candidates: np.full(len(candidates), 0.6)
        )
    }
    assert plain[1].cut.precision > 0.8
    assert capped[1].cut.precision <= 0.6 + 1e-9


@pytest.mark.parametrize("overconfidence", [1.0, 3.0])
def test_batch_precision_promises_hold_on_average(overconfidence):
    """Truth drawn from probabilities ``overconfidence`` times less sure than the model says (1:
    a calibrated model). The batches' expected precision (fitted on held-out items) is within 5
    points of what they measure, on average: the study's target for the queue's promises."""
    gaps = []
    for seed in (7, 8, 9):
        rng = np.random.default_rng(seed)
        n, classes = 20000, 4
        logits = rng.normal(0, 3.0, (n, classes))
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        true_p = np.exp(logits / overconfidence)
        true_p /= true_p.sum(axis=1, keepdims=True)
        truth = (true_p.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
        ids = np.arange(n, dtype=np.int64) + 1000
        held = np.arange(n) < 3000  # labeled, scored out of fold
        label_ids = [11, 12, 13, 14]
        batches = sm.probability_batches(
            ids,
            probs.astype(np.float32),
            label_ids,
            ~held,
            (ids[held], probs[held].astype(np.float32), label_ids),
            np.asarray(label_ids)[truth[held]],
            classes=set(label_ids),
        )
        assert len(batches) == classes
        for batch in batches:
            rows = np.asarray(batch.item_ids) - 1000
            measured = float(np.mean(np.asarray(label_ids)[truth[rows]] == batch.label_id))
            gaps.append(abs(batch.cut.precision - measured))
    assert float(np.mean(gaps)) <= 0.05, gaps


def _shifted_labels(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Three classes of 600 items each; the model calls 40% of class 1 class 0 (sure of it) and is
    right otherwise. The labeled items came as a similarity page of class 0 makes them: 150 of
    class 0, 10 of class 1, 20 of class 2. Returns (ids, probabilities, truth, labeled mask)."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(3), 600)
    called = truth.copy()
    called[(truth == 1) & (rng.random(len(truth)) < 0.4)] = 0
    probs = np.full((len(truth), 3), 0.005, np.float32)
    probs[np.arange(len(truth)), called] = 0.99
    labeled = np.zeros(len(truth), bool)
    for label, count in ((0, 150), (1, 10), (2, 20)):
        labeled[rng.choice(np.nonzero(truth == label)[0], count, replace=False)] = True
    return np.arange(len(truth), dtype=np.int64) + 1000, probs, truth, labeled


def test_label_shift_weights_find_the_classes_the_labels_under_represent():
    for seed in (0, 1, 2):
        _ids, probs, truth, labeled = _shifted_labels(seed)
        weights = sm.label_shift_weights(
            probs[labeled].argmax(axis=1), truth[labeled], probs[~labeled].argmax(axis=1), 3
        )
        assert weights is not None
        # the true ratios: the pool's shares (450, 590, 580 of 1,620) over the labels' (150, 10, 20 of 180)
        assert weights[1] / weights[0] > 5  # truly 20
        assert weights[2] / weights[0] > 2  # truly 3.2


def test_label_shift_weights_stay_near_one_where_the_labels_are_a_fair_sample():
    """A noisy confusion matrix alone (40 and 120 items of four classes, a model three times too sure)
    moves the weights little: each is shrunk by its spread over posterior draws (the bare estimate
    moved them by 0.77 on average)."""
    moved = []
    for seed in range(6):
        for held_count in (40, 120):
            rng = np.random.default_rng(seed)
            logits = rng.normal(0, 3.0, (4000, 4))
            true_p = np.exp(logits / 3.0)
            true_p /= true_p.sum(axis=1, keepdims=True)
            truth = (true_p.cumsum(axis=1) > rng.random((4000, 1))).argmax(axis=1)
            held = np.arange(4000) < held_count
            weights = sm.label_shift_weights(
                logits[held].argmax(axis=1), truth[held], logits[~held].argmax(axis=1), 4
            )
            assert weights is not None
            moved.extend(np.abs(np.log(weights)))
    assert float(np.mean(moved)) < 0.15 and float(np.median(moved)) == 0.0


def test_label_shift_weights_trust_the_model_for_a_class_the_held_out_items_do_not_hold():
    """Four held-out items of a and two of b, all called a; the pool is called a, b and c alike. No
    held-out item tells how the model calls c, so the pool's c items are no evidence that a is
    rare among the unlabeled items (a resampling of the items alone weighed a at 0.06, b at 0.26)."""
    weights = sm.label_shift_weights(
        np.zeros(6, np.int64), np.asarray([0, 0, 0, 0, 1, 1]), np.repeat([0, 1, 2], [6, 5, 5]), 3
    )
    assert weights is not None and weights[0] / weights[1] > 0.5


def test_a_batch_of_the_class_the_labels_over_represent_promises_nearer_what_the_pool_holds():
    """The held-out items of class 0 are nearly all right, so an unweighted fit promises 0.97-0.98
    for a batch of class 0 that holds 0.65 (the demo's first probability batch after a similarity
    page: promised 0.995, held 0.36). Weighted by the label shift the promise comes down towards
    it, or the batch is not offered where the confusions the held-out items show make it more
    wrong than right. (Where none of class 1's held-out items is called class 0, nothing can
    tell: one draw of eight.)"""
    gaps: dict[bool, list[float]] = {True: [], False: []}
    offered = 0
    for seed in range(8):
        ids, probs, truth, labeled = _shifted_labels(seed)
        label_ids = [11, 12, 13]
        held = (ids[labeled], probs[labeled], label_ids)
        for shift in (True, False):
            batches = sm.probability_batches(
                ids, probs, label_ids, ~labeled, held, np.asarray(label_ids)[truth[labeled]],
                classes=set(label_ids), label_shift=shift,
            )  # fmt: skip
            batch = next((b for b in batches if b.label_id == 11), None)
            if batch is not None:
                rows = np.asarray(batch.item_ids) - 1000
                gaps[shift].append(abs(batch.cut.precision - float(np.mean(truth[rows] == 0))))
                offered += shift
    assert len(gaps[False]) == 8 and min(gaps[False]) > 0.25  # the old promises
    assert offered >= 6
    assert float(np.mean(gaps[True])) <= 0.5 * float(np.mean(gaps[False])), gaps


def _batch_of(
    probs: np.ndarray, rows: np.ndarray, column: int, label_id: int
) -> tuple[np.ndarray, np.ndarray]:
    return np.full(len(rows), label_id, np.int64), probs[rows, column].astype(np.float64)


def test_the_pages_calibrated_estimate_comes_nearer_what_a_batch_of_shifted_labels_holds():
    """The probability page's plain estimate (the share of held-out items the model calls class 0
    that are class 0) says 0.97-1.0 on the labels a similarity page of class 0 made; the unlabeled
    items the model calls class 0 hold 0.65 of it. Calibrated as the queue promises (its Platt fit,
    held-out items weighed to the unlabeled items' classes), the estimate comes at least halfway
    down; the plain share and its counts stay as they were."""
    plain_gaps, calibrated_gaps = [], []
    for seed in range(8):
        ids, probs, truth, labeled = _shifted_labels(seed)
        label_ids = [11, 12, 13]
        held = HeldOut(ids[labeled], probs[labeled], label_ids, "oof.npz")
        current = {
            int(i): frozenset({label_ids[int(t)]}) for i, t in zip(ids[labeled], truth[labeled], strict=True)
        }
        pool = np.asarray(label_ids)[probs[~labeled].argmax(axis=1)]
        called = np.flatnonzero(~labeled & (probs.argmax(axis=1) == 0))
        holds = float(np.mean(truth[called] == 0))
        bare = estimate_batch(held, current, threshold=0.5, label_id=11, batch_size=len(called))
        estimate = estimate_batch(
            held, current, threshold=0.5, label_id=11, batch_size=len(called),
            batch=_batch_of(probs, called, 0, 11), pool_predicted=pool,
        )  # fmt: skip
        assert bare.calibrated_precision is None and bare.calibrated_expected_wrong is None
        assert (estimate.precision, estimate.support, estimate.correct) == (
            bare.precision,
            bare.support,
            bare.correct,
        )
        assert estimate.calibrated_precision is not None
        assert estimate.calibrated_expected_wrong == round(len(called) * (1 - estimate.calibrated_precision))
        plain_gaps.append(abs(float(bare.precision or 0) - holds))
        calibrated_gaps.append(abs(estimate.calibrated_precision - holds))
    assert min(plain_gaps) > 0.25
    assert float(np.mean(calibrated_gaps)) <= 0.5 * float(np.mean(plain_gaps)), (plain_gaps, calibrated_gaps)


@pytest.mark.parametrize("share", [0.05, 0.1])
def test_the_pages_calibrated_estimate_is_as_good_as_the_share_where_the_labels_are_a_fair_sample(share):
    """Held-out items drawn at random (the plain share is then unbiased), a model twice too sure: the
    batches of each class at >= 0.5 hold what the calibrated estimate says about as well as the plain
    share (within a point of its mean gap; both are sampling noise over ~50-100 items a class)."""
    calibrated_gaps, plain_gaps = [], []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        logits = rng.normal(0, 3.0, (3000, 3))
        true_p = np.exp(logits / 2.0) / np.exp(logits / 2.0).sum(axis=1, keepdims=True)
        truth = (true_p.cumsum(axis=1) > rng.random((3000, 1))).argmax(axis=1)
        probs = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)
        ids = np.arange(3000, dtype=np.int64)
        labeled = rng.random(3000) < share
        label_ids = [11, 12, 13]
        held = HeldOut(ids[labeled], probs[labeled], label_ids, "oof.npz")
        current = {
            int(i): frozenset({label_ids[int(t)]}) for i, t in zip(ids[labeled], truth[labeled], strict=True)
        }
        pool = np.asarray(label_ids)[probs[~labeled].argmax(axis=1)]
        for column, label in enumerate(label_ids):
            rows = np.flatnonzero(~labeled & (probs[:, column] >= 0.5))
            e = estimate_batch(
                held, current, threshold=0.5, label_id=label, batch_size=len(rows),
                batch=_batch_of(probs, rows, column, label), pool_predicted=pool,
            )  # fmt: skip
            assert e.calibrated_precision is not None and e.precision is not None
            holds = float(np.mean(truth[rows] == column))
            calibrated_gaps.append(abs(e.calibrated_precision - holds))
            plain_gaps.append(abs(e.precision - holds))
    assert float(np.mean(calibrated_gaps)) <= float(np.mean(plain_gaps)) + 0.01, (calibrated_gaps, plain_gaps)


def test_platt_calibration_learns_an_overconfident_model_and_keeps_its_word_without_data():
    sure = np.full(200, 0.99)
    half_right = np.arange(200) % 2 == 0
    fitted = sm.PlattCalibration(sure, half_right, "held-out")
    assert abs(float(fitted.item_precision(np.asarray([0.99]))[0]) - 0.5) < 0.05
    empty = sm.PlattCalibration(np.zeros(0), np.zeros(0, bool), "none")
    assert abs(float(empty.item_precision(np.asarray([0.9]))[0]) - 0.9) < 1e-6


def test_a_class_with_one_held_out_item_leans_on_the_pooled_fit_of_every_class():
    # an overconfident model: 0.95 sure and right half the time in every class (bench promises' "pooled")
    probs = np.tile(np.asarray([[0.95, 0.025, 0.025]]), (60, 1))
    for row in range(60):
        probs[row] = np.roll(probs[row], row % 3)
    true = np.where(np.arange(60) % 2 == 0, probs.argmax(axis=1), (probs.argmax(axis=1) + 1) % 3)
    pooled = sm.pooled_fit(probs, true, "held-out")
    assert pooled is not None and abs(float(pooled.item_precision(np.asarray([0.95]))[0]) - 0.5) < 0.08
    # one right item of its own: the bare fit trusts the model, the pooled centre does not
    alone = sm.PlattCalibration(np.asarray([0.95]), np.asarray([True]), "held-out")
    leaning = sm.PlattCalibration(
        np.asarray([0.95]), np.asarray([True]), "held-out", centre=(pooled.a, pooled.b)
    )
    own, pulled = (float(f.item_precision(np.asarray([0.95]))[0]) for f in (alone, leaning))
    assert own > 0.9 and 0.55 < pulled < 0.8
    # a miss recorded by a rejection counts; nothing judged: no fit
    missed = np.full(60, -1)
    assert sm.pooled_fit(probs, np.full(60, -1), "held-out") is None
    missed[0] = int(probs[0].argmax())
    assert sm.pooled_fit(probs, np.full(60, -1), "held-out", missed_columns=missed) is not None


def _promise_gaps(held_count: int, overconfidence: float) -> list[float]:
    """Promised minus expected precision (the mean true probability of the class over the batch)
    of every probability batch, ten draws of ``held_count`` held-out items among 4,000 items."""
    gaps = []
    label_ids = [11, 12, 13, 14]
    for seed in range(10):
        rng = np.random.default_rng(seed)
        n = 4000
        logits = rng.normal(0, 3.0, (n, len(label_ids)))
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        true_p = np.exp(logits / overconfidence)
        true_p /= true_p.sum(axis=1, keepdims=True)
        truth = (true_p.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
        ids = np.arange(n, dtype=np.int64) + 1000
        held = np.arange(n) < held_count
        batches = sm.probability_batches(
            ids,
            probs.astype(np.float32),
            label_ids,
            ~held,
            (ids[held], probs[held].astype(np.float32), label_ids),
            np.asarray(label_ids)[truth[held]],
            classes=set(label_ids),
        )
        for batch in batches:
            rows = np.asarray(batch.item_ids) - 1000
            expected = float(np.mean(true_p[rows, label_ids.index(batch.label_id)]))
            gaps.append(batch.cut.precision - expected)
    return gaps


def test_a_batch_promises_its_fit_which_learns_an_overconfident_model_from_enough_items():
    """A batch promises the Platt fit's mean (decision 0025; the Wilson interval of the fitted share
    over ten items promised 0.16 less than batches held, the posterior's lower end 0.17 less for a
    model three times too sure). Calibrated model: the promise is right within a point. A model
    three times too sure: ten held-out items per class leave the fit near its prior ("the model
    keeps its word"), a few points over; thirty per class, as the items labeled since the training
    soon add, teach it the overconfidence."""
    for held in (40, 120):
        assert abs(float(np.mean(_promise_gaps(held, 1.0)))) <= 0.01
    assert 0.0 <= float(np.mean(_promise_gaps(40, 3.0))) <= 0.05
    assert abs(float(np.mean(_promise_gaps(120, 3.0)))) <= 0.01


def test_the_posterior_bound_narrows_as_the_fit_rests_on_more_items():
    ks = np.asarray([8])
    batch = np.full(8, 0.8)
    drops = []
    for count in (20, 200, 2000):
        rng = np.random.default_rng(count)
        held = rng.uniform(0.5, 0.95, count)
        fitted = sm.PlattCalibration(held, rng.uniform(size=count) < held, "held-out")
        drops.append(float(fitted.item_precision(batch).mean() - fitted.lower_means(batch, ks, 1.3)[0]))
    assert drops[0] > drops[1] > drops[2] > 0 and drops[2] < 0.02, drops


def test_weighted_fit_counts_its_effective_sample_size():
    scores = np.linspace(0.6, 0.99, 40)
    right = np.arange(40) % 4 != 0
    plain = sm.PlattCalibration(scores, right, "held-out")
    even = sm.PlattCalibration(scores, right, "held-out", weights=np.full(40, 3.0))
    assert plain.support == even.support == 40 and abs(plain.a - even.a) < 1e-9
    half = sm.PlattCalibration(scores, right, "held-out", weights=np.r_[np.ones(20), np.zeros(20)])
    assert half.support == 20


def test_items_labeled_since_training_join_the_held_out_items_in_their_columns():
    held = HeldOut(np.asarray([5, 7]), np.asarray([[0.9, 0.1], [0.2, 0.8]], np.float32), [20, 10], "oof.npz")
    outputs = (
        np.asarray([9, 7, 5, 3]),
        np.asarray([[0.3, 0.7], [0.5, 0.5], [0.6, 0.4], [0.1, 0.9]]),
        [10, 20],
    )
    joined = with_labeled_since(held, outputs, np.asarray([3, 7, 11]))  # 7 is held already, 11 unscored
    assert joined.item_ids.tolist() == [5, 7, 3] and joined.since_training == 1
    assert joined.probabilities[-1].tolist() == pytest.approx([0.9, 0.1])  # reordered to [20, 10]
    assert joined.label_ids == [20, 10] and joined.source == "oof.npz"
    # outputs that name a class the model had no labels of: its share goes to the trained ones
    wider = (
        outputs[0],
        np.asarray([[0.2, 0.5, 0.3], [0.5, 0.5, 0], [0.5, 0.3, 0.2], [0.1, 0.7, 0.2]]),
        [10, 30, 20],
    )
    assert with_labeled_since(held, wider, np.asarray([3])).probabilities[-1].tolist() == pytest.approx(
        [2 / 3, 1 / 3]
    )
    # outputs without a trained class (deleted since): nothing to compare
    assert with_labeled_since(held, (outputs[0], outputs[1], [10, 30]), np.asarray([3])) is held
    assert with_labeled_since(held, outputs, np.zeros(0, np.int64)) is held


def test_items_left_out_of_a_batch_count_as_misses_of_its_class_and_say_nothing_of_others():
    """A walk's page of "peaks": 166 kept, 45 left out by hand, and the next estimate read 249 of 251
    right: the kept items became labels, the left-out ones were not counted at all."""
    right = np.tile(np.asarray([[0.9, 0.1]], np.float32), (20, 1))  # 20 held-out items of class 1, right
    held = HeldOut(np.arange(20), right, [1, 2], "oof.npz")
    current = {i: frozenset({1}) for i in range(20)}
    pool = np.arange(100, 140)
    probs = np.tile(np.asarray([[0.92, 0.08]]), (40, 1))
    probs[30:] = [[0.1, 0.9]]  # 130..139: the model calls them 2
    outputs = (pool, probs, [1, 2])
    # 100..109 left out of a batch of 1; 130, 131 left out of a batch of 1 too (the model calls them 2);
    # 110 left out of a batch of 2; 111 left out of 1 but labeled since (its label counts, not the rejection)
    rejected = {1: {*range(100, 110), 130, 131, 111}, 2: {110}}
    joined = with_rejections(held, outputs, rejected, frozenset({111}))
    assert len(joined.item_ids) == 20 + 13 and joined.since_training == 0
    assert sorted(joined.rejected_labels()[20:].tolist()) == [1] * 12 + [2]

    before = estimate_batch(
        held, current, threshold=0.8, label_id=1, batch_size=50, batch=_batch(1, 0.92, 50)
    )
    after = estimate_batch(
        joined, current, threshold=0.8, label_id=1, batch_size=50, batch=_batch(1, 0.92, 50)
    )
    assert (before.support, before.correct, before.rejected) == (20, 20, 0)
    # the ten the model calls 1 are misses of 1; 130/131 (called 2) and 110 (left out of 2) say nothing of 1
    assert (after.support, after.correct, after.rejected) == (30, 20, 10)
    assert after.precision == round(20 / 30, 4)
    assert after.calibrated_precision is not None and before.calibrated_precision is not None
    assert after.calibrated_precision < before.calibrated_precision - 0.1
    # the queue's fit of class 1 learns the same misses
    unlabeled = np.ones(40, bool)
    plain = sm.probability_batches(
        pool, probs, [1, 2], unlabeled, (held.item_ids, held.probabilities, [1, 2]),
        np.full(20, 1, np.int64), classes={1, 2},
    )  # fmt: skip
    held_labels = np.asarray([1] * 20 + [-1] * 13, np.int64)
    told = sm.probability_batches(
        pool, probs, [1, 2], unlabeled, (joined.item_ids, joined.probabilities, [1, 2]),
        held_labels, classes={1, 2}, held_out_rejected=joined.rejected_labels(),
    )  # fmt: skip
    promised = {b.label_id: b.cut.precision for b in plain}
    promised_told = {b.label_id: b.cut.precision for b in told}
    assert promised[1] > 0.85 and promised_told.get(1, 0.0) < promised[1] - 0.1
    # nothing to add: the same object back
    assert with_rejections(held, outputs, {}, frozenset()) is held
    assert (
        with_rejections(held, outputs, {3: {100}}, frozenset()) is held
    )  # a class the model has no column of


def _batch(label: int, score: float, count: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full(count, label, np.int64), np.full(count, score)
