"""The numpy half of the next-best-action queue: batches cut to the most labels per action, their
expected precision, and the items worth labeling one by one. No database, no files: arrays in,
plain values out (``backend.guided.next_actions`` feeds them from saved model outputs).

Every piece is bounded: a batch is at most ``MAX_BATCH`` items, uncertainty looks at the
``POOL`` least certain items, diversity at a sample of ``SAMPLE`` items, so one answer costs a
few passes over an ``N x C`` probability matrix and an ``N x d`` vector matrix, whatever N is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MAX_BATCH = 1000  # items a batch suggestion holds at most (a bigger batch is the next suggestion)
PROBABILITY_SIZES = (8, 16, 24, 48, 96, 200, 400, 1000)
MIXED_MOST = 96  # items a page of several classes' batches holds at most (two gallery pages of 48)
SIMILARITY_SIZES = (8, 16, 24, 48, 96, 200)
# a batch is suggested when it is expected to give more labels per action than labeling one by
# one (``MIN_LABELS_PER_ACTION``: a batch of 8 needs 0.57 right, of 48 0.51) and to be more right
# than wrong; the ranking by labels per action puts it after cleaner batches. (A fixed 0.7 floor on
# the fitted precision left batches of 8 that held 0.87 on average on the MNIST sample: the fit,
# made on the hard items labeled one by one, promises less than the easy top of a class holds.)
MIN_PROBABILITY_PRECISION = 0.5
MIN_SIMILARITY_PRECISION = 0.5
MIN_LABELS_PER_ACTION = 1.0
POOL = 500  # the least certain unlabeled items among which diversity chooses
SAMPLE = 2000  # unlabeled items k-means looks at (bounded work)
CENTRES = 500  # labeled items k-center measures distances to, at most (a sample)
MIN_SUPPORT = 10  # labeled items a precision rests on at least (the next ones below the threshold)
PRIOR_WEIGHT = 2.0  # pseudo-counts that pull a small held-out support towards the prior
SIMILARITY_PRIOR, SIMILARITY_PRIOR_WEIGHT = 0.5, PRIOR_WEIGHT  # neighbours: half right until shown
WILSON_Z = 1.645  # one-sided 95%: the stopping estimate promises what its held-out items support
BATCH_Z = 1.3  # the lower bounds below: z of the batch's mean (the bench's ways of promising)
# what a probability batch promises: "fit", the Platt fit's mean over the batch (decision 0025: fitted
# on the items labeled since the training too, it needs no hedge: the study's calibration gap fell
# from 0.21 to 0.10 on the cell cycle and from 0.14 to 0.09 on the demo, seed 0); "posterior", the
# fit less ``BATCH_Z`` standard errors of that mean under the fit's posterior (decision 0018, when
# the fit rested on the training's out-of-fold items alone); "wilson", the Wilson interval of the
# fitted share over the fit's support (before issue 18)
BATCH_BOUND = "fit"
# how a similarity page's neighbour votes meet the classifier's probability of the class: "min",
# each vote capped by the bare probability; "mean", the mean of the vote and the probability
# calibrated on held-out items where a calibration is given (``bench promises`` judges both)
SIMILARITY_CAP = "min"
# items a person left out of a batch of a class count as labeled items of another class in that
# class's similarity page figures (its leave-one-out share and its candidates' neighbour votes)
REJECTED_AS_OTHER = True
SHIFT_DRAWS = 32  # posterior draws that say how far a label-shift weight can be trusted
SHIFT_ROUNDS = 300  # EM rounds at most (it stops when the shares move less than 1e-7)


@dataclass(frozen=True)
class Cut:
    """The top ``count`` rows of a ranking, the score of the last one, the precision expected."""

    rows: np.ndarray  # row indices into the ranked arrays, best first
    threshold: float
    precision: float
    support: int  # held-out (or leave-one-out) labeled items the precision rests on
    source: str

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def expected_labels(self) -> float:
        return self.count * self.precision

    @property
    def expected_actions(self) -> float:
        return 1.0 + self.count * (1.0 - self.precision)  # one click, then every wrong item fixed


def unit(vectors: np.ndarray) -> np.ndarray:
    data = np.asarray(vectors, np.float32)
    return data / np.maximum(np.linalg.norm(data, axis=1, keepdims=True), 1e-12)


def rows_of(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Row of each ``wanted`` id in ``ids`` (-1 when absent), by binary search: no Python loop."""
    ids = np.asarray(ids, np.int64)
    wanted = np.asarray(wanted, np.int64)
    if not len(ids) or not len(wanted):
        return np.full(len(wanted), -1, np.int64)
    order = np.argsort(ids, kind="stable")
    at = np.searchsorted(ids[order], wanted)
    at = np.minimum(at, len(ids) - 1)
    found = ids[order][at] == wanted
    return np.where(found, order[at], -1)


class Calibration:
    """Precision of "score >= t" from labeled items ranked as the batch is (leave one out): of
    those at or above t, the share that is right, smoothed towards ``prior`` where they are few.

    Where fewer than ``min_support`` labeled items reach t, the next ones below it count too (a
    higher score is no less likely right: they bound it from below); 0 turns that off, as
    similarity needs (below a class's own items come the other classes' items, no bound at all)."""

    def __init__(
        self,
        scores: np.ndarray,
        right: np.ndarray,
        source: str,
        min_support: int = MIN_SUPPORT,
        weight: float = PRIOR_WEIGHT,
    ) -> None:
        order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
        self.scores = np.asarray(scores, np.float64)[order]  # falling
        self.right = np.cumsum(np.asarray(right, np.float64)[order])
        self.source = source
        self.min_support = min_support
        self.weight = weight

    def at(self, thresholds: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(precision, support) of "score >= t" for each t; ``prior`` where the support is thin."""
        thresholds = np.asarray(thresholds, np.float64)
        support = np.searchsorted(-self.scores, -thresholds, side="right")  # how many >= t
        support = np.maximum(support, min(self.min_support, len(self.scores)))
        right = np.where(support > 0, self.right[np.maximum(support - 1, 0)], 0.0)
        precision = (right + self.weight * prior) / (support + self.weight)
        return np.minimum(precision, 1.0), support


class PlattCalibration:
    """How often a class probability is right, fitted on labeled items the model did not train on:
    P(right | p) = sigmoid(a * logit(p) + b) (Platt scaling, two numbers from every held-out item
    the model gives this class, pulled towards a = 1, b = 0, "the model keeps its word", where they
    are few). A batch's expected precision is the mean of its items' calibrated probabilities.

    Fitted on all of the class's held-out items, not only those above the batch's threshold: a
    cut chosen where a few dozen items happened to be all right would promise 100% and deliver
    less (on generated data whose model is three times too sure, the share above the threshold
    was off by 7 points, the fitted curve by about 1)."""

    def __init__(
        self,
        scores: np.ndarray,
        right: np.ndarray,
        source: str,
        strength: float = 2.0,
        weights: np.ndarray | None = None,
        centre: tuple[float, float] = (1.0, 0.0),
    ) -> None:
        """``weights``: one per item (importance weights; none: all 1), scaled so that together
        they count as their effective sample size (Kish), which is the fit's ``support``.
        ``centre``: the (a, b) the fit is pulled towards where its items are few: (1, 0), "the
        model keeps its word", or the model's fit over all classes (``pooled_fit``)."""
        a0, b0 = centre
        x = _logit(np.asarray(scores, np.float64))
        y = np.asarray(right, np.float64)
        v = np.ones(len(x)) if weights is None else np.asarray(weights, np.float64)
        if len(v) and weights is not None:  # they count as many items as their effective sample size
            v = v * (v.sum() / max(float((v * v).sum()), 1e-12))

        def loss(a: float, b: float) -> float:  # negative log posterior
            z = a * x + b
            return float((v * (np.logaddexp(0.0, z) - y * z)).sum()) + strength / 2 * (
                (a - a0) ** 2 + (b - b0) ** 2
            )

        a, b = a0, b0
        current = loss(a, b)
        for _ in range(50):  # Newton steps, halved until the posterior improves
            p = _sigmoid(a * x + b)
            w = v * p * (1.0 - p)
            r = v * (p - y)
            gradient = np.asarray([(r * x).sum() + strength * (a - a0), r.sum() + strength * (b - b0)])
            hessian = np.asarray(
                [[(w * x * x).sum() + strength, (w * x).sum()], [(w * x).sum(), w.sum() + strength]]
            )
            step = np.linalg.solve(hessian, gradient)
            scale = 1.0
            while scale > 1e-4 and loss(a - scale * step[0], b - scale * step[1]) > current:
                scale /= 2
            a, b = a - scale * float(step[0]), b - scale * float(step[1])
            previous, current = current, loss(a, b)
            if previous - current < 1e-9:
                break
        self.a, self.b = a, b
        p = _sigmoid(a * x + b)
        w = v * p * (1.0 - p)
        # the posterior's covariance of (a, b) (Laplace): how far the fitted curve may be off
        self.covariance = np.linalg.inv(
            np.asarray([[(w * x * x).sum() + strength, (w * x).sum()], [(w * x).sum(), w.sum() + strength]])
        )
        # what the fit rests on: Kish's effective sample size of the weights (all of them: len(y))
        self.support = round(float(v.sum())) if len(v) else 0
        self.source = source

    def item_precision(self, scores: np.ndarray) -> np.ndarray:
        return _sigmoid(self.a * _logit(np.asarray(scores, np.float64)) + self.b)

    def lower_means(self, scores: np.ndarray, ks: np.ndarray, z: float) -> np.ndarray:
        """The mean calibrated precision of the top ``ks`` of ``scores`` (falling), less ``z`` of its
        standard errors under the fit's posterior (the delta method)."""
        x = _logit(np.asarray(scores, np.float64))
        p = _sigmoid(self.a * x + self.b)
        d = p * (1.0 - p)
        mean = np.cumsum(p)[ks - 1] / ks
        ga, gb = np.cumsum(d * x)[ks - 1] / ks, np.cumsum(d)[ks - 1] / ks
        c = self.covariance
        var = ga * ga * c[0, 0] + 2 * ga * gb * c[0, 1] + gb * gb * c[1, 1]
        return np.clip(mean - z * np.sqrt(np.maximum(var, 0.0)), 0.0, 1.0)


def pooled_fit(
    probabilities: np.ndarray,
    true_columns: np.ndarray,
    source: str,
    weights: np.ndarray | None = None,
    missed_columns: np.ndarray | None = None,
) -> PlattCalibration | None:
    """One Platt fit over every class's held-out items (each scored by its arg-max class's
    probability, right where that is its class): how far the model keeps its word on the whole,
    the centre each class's own fit is pulled towards (partial pooling). A class with one held-out
    item then promises what the model's record says, not what its own probabilities claim (a
    classifier of 16 labels promised a batch of 16 at 97%; it held 5; ``bench promises`` judges it:
    no better than the class's own fit, so the queue does not use it). ``true_columns``: each
    item's class column (-1: unknown); ``missed_columns``: a column a person left it out of a
    batch of (-1: none), a miss of that column. None without a judged item."""
    probs = np.asarray(probabilities, np.float64)
    if not len(probs):
        return None
    best = probs.argmax(axis=1)
    top = probs[np.arange(len(best)), best]
    true = np.asarray(true_columns, np.int64)
    judged = true >= 0
    if missed_columns is not None:
        judged |= np.asarray(missed_columns, np.int64) == best
    if not judged.any():
        return None
    return PlattCalibration(
        top[judged],
        (true == best)[judged],
        source,
        weights=None if weights is None else np.asarray(weights, np.float64)[judged],
    )


def wilson_lower(right: float, n: int, z: float = WILSON_Z) -> float:
    """The lower end of the Wilson score interval of a share ``right / n`` (0 without items): what
    ``n`` held-out items support at about 95% one-sided confidence (Wilson 1927)."""
    if n <= 0:
        return 0.0
    share = right / n
    centre = share + z * z / (2 * n)
    spread = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return float(max(0.0, (centre - spread) / (1 + z * z / n)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1.0 - 1e-6)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))


def best_cut(
    scores: np.ndarray,
    calibration: Calibration | PlattCalibration | None,
    sizes: tuple[int, ...],
    min_precision: float,
    prior_of_scores: bool,
    prior: float = 0.6,
    item_precision: np.ndarray | None = None,
    scale: float = 1.0,
) -> Cut | None:
    """The top-k of ``scores`` (falling) that gives most expected labels per action, among the
    page sizes ``sizes`` (and all of them when fewer), expected precision at least ``min_precision``.

    Without a calibration the precision is the mean score (``prior_of_scores``: the model's own
    probabilities) or ``prior``; with one, the calibration's, pulled towards that prior.

    The precision promised is the calibrated estimate (a Platt fit's mean over the batch, or a
    bound of it as ``BATCH_BOUND`` says): a batch is read by the person before it is accepted
    (wrong items deselected), so an under-promise costs as much as an over-promise (it hides the
    batch behind labeling one by one: the Wilson lower bound of 18 out-of-fold items promised 0.28
    for a batch that was 8 of 8 right on the demo).

    ``item_precision``: a second estimate per ranked item (its labeled neighbours' votes); where
    given, a cut promises the lower of the two (each is biased upwards in its own way).

    ``scale``: a factor on both figures (at most 1 after it; ``bench similarity_pages``, decision
    0030)."""
    scores = np.asarray(scores, np.float64)
    if not len(scores):
        return None
    ks = np.asarray(sorted({min(k, len(scores)) for k in sizes}), np.int64)
    thresholds = scores[ks - 1]
    own = np.cumsum(scores)[ks - 1] / ks if prior_of_scores else np.full(len(ks), prior)
    promise: np.ndarray | None = None  # what a fitted calibration promises (below its fit)
    if calibration is None:
        precision, support, source = own, np.zeros(len(ks), np.int64), "the model's own probabilities"
    elif isinstance(calibration, PlattCalibration):
        fitted = np.cumsum(calibration.item_precision(scores))[ks - 1] / ks
        # the fit itself (decision 0025), or a lower bound of it: on the training's out-of-fold items
        # alone the bare fit over-promised (test_promises' real classifier by 0.084, the cell cycle's
        # batches by 0.3), so decision 0018 promised the posterior's lower end at BATCH_Z; fitted on
        # the items labeled since the training too (the batches' own outcomes) it over-promises no
        # more, and the bound only under-promised (demo -0.10). The Wilson interval over the fit's
        # support promised 0.15 less than batches held (``bench promises``; decision 0018)
        # (the cut and the floors go by the fit, as a person judges a page by what it holds)
        n = calibration.support
        precision = fitted
        if BATCH_BOUND == "fit":
            promise = fitted
        elif BATCH_BOUND == "posterior":
            promise = calibration.lower_means(scores, ks, BATCH_Z)
        else:
            promise = np.asarray([wilson_lower(float(f) * n, n, BATCH_Z) if n else float(f) for f in fitted])
        support, source = np.full(len(ks), n), calibration.source
    else:
        precision, support = calibration.at(thresholds, own)
        source = calibration.source
    if item_precision is not None and len(item_precision):
        local = np.asarray(item_precision, np.float64)[: len(scores)]
        reach = np.minimum(ks, len(local))
        precision = np.minimum(precision, np.cumsum(local)[reach - 1] / reach)
        if promise is not None:  # a fitted promise is held to the votes as well
            promise = np.minimum(promise, np.cumsum(local)[reach - 1] / reach)
    if scale != 1.0:
        precision = precision * scale
        if promise is not None:
            promise = np.clip(promise * scale, 0.0, 1.0)
    precision = np.clip(precision, 0.0, 1.0)
    value = ks * precision / (1.0 + ks * (1.0 - precision))
    value[(precision < min_precision) | (value <= MIN_LABELS_PER_ACTION)] = -1.0
    best = int(np.argmax(value))
    if value[best] < 0:
        return None
    k = int(ks[best])
    promised = float(promise[best]) if promise is not None else float(precision[best])
    return Cut(np.arange(k), float(thresholds[best]), promised, int(support[best]), source)


def label_shift_weights(
    held_predicted: np.ndarray,
    held_true: np.ndarray,
    pool_predicted: np.ndarray,
    classes: int,
    draws: int = SHIFT_DRAWS,
) -> np.ndarray | None:
    """A weight per class column: the class's share among the unlabeled items over its share among
    the held-out ones (label shift: the labels a person gave are not a sample of the data).

    The labeled items come as the person labeled them: after a similarity page of one class that
    class is three quarters of the labels, every held-out item the model calls it is right, and
    the unlabeled items it calls it are as often the rare classes it met twice. Weighing each
    held-out item by its true class's weight makes a fit on them judge the unlabeled pool.

    The unlabeled shares are the maximum-likelihood mixture of the held-out confusion matrix
    (P(predicted | true), one pseudo-item a class spread over the columns) that gives the pool's
    predicted classes (EM; black-box shift estimation, Lipton et al. 2018; Saerens et al. 2002).
    A confusion matrix from a few dozen items is noisy and its inverse more so, and a class the
    held-out items hold few of (or none) tells nothing of how the model calls it: the shares are
    averaged over posterior draws of the matrix (each true class's column Dirichlet(its counts +
    1 / classes)) and each is pulled towards its held-out share by its spread over them
    (James-Stein's positive part): a shift the held-out items cannot tell from noise weighs
    nothing (generated labels without a shift: mean |log weight| 0.77 for the bare estimate, 0.10
    so; a resampling of the items alone, 0.09, left a class without held-out items to soak up the
    pool's other classes: a class of four held-out items weighed 0.06 against another's 0.26).
    ``held_true``: each held-out item's true column (-1: none; left out). None: nothing to compare."""
    predicted = np.asarray(held_predicted, np.int64)
    true = np.asarray(held_true, np.int64)
    known = (true >= 0) & (true < classes)
    pool = np.asarray(pool_predicted, np.int64)
    if classes < 2 or not known.any() or not len(pool):
        return None
    predicted, true = predicted[known], true[known]
    counts = np.zeros((classes, classes))  # [predicted, true]
    np.add.at(counts, (predicted, true), 1.0)
    # posterior draws of each true class's column, Dirichlet(counts + 1/classes): a class the held-out
    # items hold few of (or none) gets columns that scatter, so its share scatters and is shrunk
    gammas = np.random.default_rng(0).gamma(counts + 1.0 / classes, size=(draws, classes, classes))
    confusion = gammas / np.maximum(gammas.sum(axis=1, keepdims=True), 1e-300)
    observed = np.bincount(pool, minlength=classes)[:classes] / len(pool)
    share = np.full((draws, classes), 1.0 / classes)
    for _ in range(SHIFT_ROUNDS):  # EM over the pool's predicted classes, every draw at once
        joint = confusion * share[:, None, :]
        updated = np.einsum(
            "i,bij->bj", observed, joint / np.maximum(joint.sum(axis=2, keepdims=True), 1e-12)
        )
        converged = np.abs(updated - share).max() < 1e-7
        share = updated
        if converged:
            break
    # the shares averaged over the draws (bounded, unlike their logs), then pulled towards
    # the held-out shares (no shift) by their spread: positive part of 1 - spread^2 / shift^2
    held_share = counts.sum(axis=0) / len(true)
    bagged, spread = share.mean(axis=0), share.std(axis=0)
    shift = bagged - held_share
    kept = np.clip(1.0 - spread**2 / np.maximum(shift**2, 1e-12), 0.0, 1.0)
    return np.where(held_share > 0, (held_share + kept * shift) / np.maximum(held_share, 1e-12), 1.0)


# ---- probability batches ----------------------------------------------------------------------


@dataclass(frozen=True)
class ProbabilityBatch:
    label_id: int
    item_ids: list[int]
    cut: Cut


def probability_batches(
    item_ids: np.ndarray,
    probabilities: np.ndarray,
    label_ids: list[int],
    unlabeled: np.ndarray,
    held_out: tuple[np.ndarray, np.ndarray, list[int]] | None,
    held_out_labels: np.ndarray | None,
    *,
    classes: set[int],
    held_out_source: str = "held-out items",
    weigh: Callable[[np.ndarray, np.ndarray], np.ndarray | None] | None = None,
    votes: Callable[[int, np.ndarray], np.ndarray | None] | None = None,
    label_shift: bool = True,
    held_out_rejected: np.ndarray | None = None,
    pooled_prior: bool = False,
) -> list[ProbabilityBatch]:
    """One batch per class: its unlabeled items at or above a threshold, cut where expected
    labels per action peak. ``held_out``: (item ids, probabilities, column label ids) of labeled
    items scored by a model that did not train on them; ``held_out_labels``: each one's current
    single label (-1: none or several). ``votes``: (class, candidate ids) -> each candidate's
    labeled neighbours' vote for the class (``neighbour_votes``), a cap on what is promised.
    ``held_out_rejected``: per held-out item, the class a person left it out of a batch of (-1:
    none; ``heldout.with_rejections``): a miss of that class's fit. ``pooled_prior``: each class's
    fit is pulled towards the fit over all classes (``pooled_fit``), else towards "the model keeps
    its word" (the product's: pooling gained nothing in ``bench promises``, study log stops 36, 45)."""
    probs = np.asarray(probabilities, np.float32)
    best = probs.argmax(axis=1)
    top = probs[np.arange(len(best)), best]
    shift: np.ndarray | None = None  # a weight per held-out column: the pool's class shares over theirs
    if label_shift and held_out is not None and held_out_labels is not None:
        h_columns = {label: column for column, label in enumerate(held_out[2])}
        true_columns = np.asarray([h_columns.get(int(label), -1) for label in held_out_labels], np.int64)
        to_held = np.asarray([h_columns.get(label, -1) for label in label_ids], np.int64)
        pool = to_held[best[unlabeled]]  # the pool's predicted classes, as held-out columns
        shift = label_shift_weights(
            np.asarray(held_out[1]).argmax(axis=1), true_columns, pool[pool >= 0], len(held_out[2])
        )
    centre = (1.0, 0.0)
    if pooled_prior and held_out is not None and held_out_labels is not None:
        h_columns = {label: column for column, label in enumerate(held_out[2])}
        true_of = np.asarray([h_columns.get(int(label), -1) for label in held_out_labels], np.int64)
        missed = None
        if held_out_rejected is not None:
            missed = np.asarray([h_columns.get(int(label), -1) for label in held_out_rejected], np.int64)
        pooled_weights = None
        if shift is not None:
            pooled_weights = np.where(true_of >= 0, shift[np.maximum(true_of, 0)], 1.0)
        pooled = pooled_fit(np.asarray(held_out[1]), true_of, held_out_source, pooled_weights, missed)
        if pooled is not None:
            centre = (pooled.a, pooled.b)
    batches = []
    for column, label_id in enumerate(label_ids):
        if label_id not in classes:
            continue
        # every unlabeled item whose arg-max is the class, however flat its probabilities: the
        # calibration on held-out items says how right they are, and the cut keeps the top ones
        # (a 0.5 floor left 6-8 candidates per class to a ten-class head calibrated on the hard
        # items labeled one by one, 0.88 right on held-out items: every batch was one of 8)
        rows = np.nonzero(unlabeled & (best == column))[0]
        if not len(rows):
            continue
        rows = rows[np.argsort(-top[rows], kind="stable")][:MAX_BATCH]
        calibration: PlattCalibration | None = None
        if held_out is not None and held_out_labels is not None and label_id in held_out[2]:
            _, h_probs, h_labels = held_out
            h_best = np.asarray(h_probs).argmax(axis=1)
            mine = (h_best == h_labels.index(label_id)) & (held_out_labels >= 0)
            if held_out_rejected is not None:  # left out of a batch of the class: wrong, its class unknown
                mine |= (h_best == h_labels.index(label_id)) & (held_out_rejected == label_id)
            if mine.any():
                weights = None
                if weigh is not None:  # (held-out ids, candidate ids) -> a weight each (bench promises)
                    weights = weigh(np.asarray(held_out[0])[mine], item_ids[rows[: max(PROBABILITY_SIZES)]])
                if shift is not None:  # each held-out item weighs as its true class does in the pool
                    # a class the model did not train on (no column): no weight known, 1
                    true_of = true_columns[mine]
                    of_class = np.where(true_of >= 0, shift[np.maximum(true_of, 0)], 1.0)
                    weights = of_class if weights is None else weights * of_class
                calibration = PlattCalibration(
                    np.asarray(h_probs)[mine, h_labels.index(label_id)],
                    held_out_labels[mine] == label_id,
                    held_out_source,
                    weights=weights,
                    centre=centre,
                )
        cut = best_cut(
            top[rows],
            calibration,
            PROBABILITY_SIZES,
            MIN_PROBABILITY_PRECISION,
            prior_of_scores=True,
            item_precision=votes(label_id, item_ids[rows[: max(PROBABILITY_SIZES)]]) if votes else None,
        )
        if cut is None:
            continue
        chosen = rows[cut.rows]
        batches.append(ProbabilityBatch(label_id, item_ids[chosen].tolist(), cut))
    return batches


@dataclass(frozen=True)
class MixedBatch:
    """Several classes' probability batches on one page, each item shown with its class: a page of
    8 costs one click per 8 items however right it is, so small batches of many classes cost more
    clicks than their wrong items (digits: 19 of 46 batches were pages of 8, a fifth of all actions)."""

    item_ids: list[int]
    label_ids: list[int]  # per item, the class shown (its batch's)
    expected_labels: float
    expected_wrong: float
    batches: int  # classes on the page

    @property
    def count(self) -> int:
        return len(self.item_ids)

    @property
    def precision(self) -> float:
        return self.expected_labels / max(self.count, 1)

    @property
    def expected_actions(self) -> float:
        return 1.0 + self.expected_wrong  # one click, then every wrong item fixed, as a batch


def mixed_batch(batches: list[ProbabilityBatch], most: int = MIXED_MOST) -> MixedBatch | None:
    """The probability batches most likely right, one page of at most ``most`` items: each batch
    (best first, whole or its top part to fill the page) joins while its odds of an item being
    right beat the page's labels per action so far, so a batch worse than the page leaves it.
    Each part keeps its batch's promise (its top part is at least as right). None: fewer than
    two classes would share the page."""
    items: list[int] = []
    classes: list[int] = []
    labels = wrong = 0.0
    joined = 0
    for batch in sorted(batches, key=lambda b: -b.cut.precision):
        room = most - len(items)
        q = batch.cut.precision
        if room <= 0 or (joined and q / max(1.0 - q, 1e-9) <= labels / (1.0 + wrong)):
            break
        take = batch.item_ids[:room]
        items.extend(take)
        classes.extend([batch.label_id] * len(take))
        labels += len(take) * q
        wrong += len(take) * (1.0 - q)
        joined += 1
    if joined < 2:
        return None
    return MixedBatch(items, classes, labels, wrong, joined)


# ---- similarity batches ----------------------------------------------------------------------


@dataclass(frozen=True)
class SimilarityBatch:
    label_id: int
    query_item_ids: list[int]
    item_ids: list[int]
    cut: Cut


def query_sample(item_ids: np.ndarray, count: int = 32) -> np.ndarray:
    """At most ``count`` of a class's labeled items, evenly spread over their ids (deterministic)."""
    ids = np.sort(np.asarray(item_ids, np.int64))
    if len(ids) <= count:
        return ids
    return ids[np.linspace(0, len(ids) - 1, count).round().astype(np.int64)]


def similarity_batches(
    vector_ids: np.ndarray,
    unit_vectors: np.ndarray,
    unlabeled: np.ndarray,
    labeled_rows: np.ndarray,
    labeled_classes: np.ndarray,
    *,
    classes: set[int],
    min_labels: int = 2,
    class_probability: dict[int, np.ndarray] | None = None,
    class_calibration: dict[int, PlattCalibration] | None = None,
    rejected_rows: np.ndarray | None = None,
    scales: Callable[[int], float] | None = None,
) -> list[SimilarityBatch]:
    """Per class with ``min_labels`` labeled items: unlabeled items ranked by cosine similarity to
    the mean of (a sample of) its labeled items, cut where expected labels per action peak.

    The precision comes from the labeled items ranked the same way (leave one out: a query item is
    scored against the mean of the others), the share of the class among those at or above the cut,
    capped by each candidate's labeled neighbours (``neighbour_votes``) and, where a classifier
    scored them (``class_probability``: label id -> its probability per vector row, NaN where
    unscored), by its probability of the class: once most of a class is labeled, the next
    nearest items are other classes' that sit among its labeled items (on digits, a page promised
    0.88 by both other figures held 0.25).

    ``rejected_rows``: rows of items a person left out of a batch of the (one) class asked for:
    known not to be of it, they count as labeled items of another class in both figures where
    ``REJECTED_AS_OTHER`` (a walk's page of G1 cells was promised 0.88 and held 0.42 beside 36
    S-phase cells rejected for G1, which neither figure saw).

    ``scales``: label id -> a factor on its page's figures (none: 1; ``bench similarity_pages``
    judges one from what earlier pages held, decision 0030)."""
    batches = []
    one_class = len(set(np.asarray(labeled_classes).tolist())) < 2  # before the rejections join
    labeled_unit = unit_vectors[labeled_rows] if len(labeled_rows) else unit_vectors[:0]
    if REJECTED_AS_OTHER and rejected_rows is not None and len(rejected_rows) and len(classes) == 1:
        # a rejected item is labeled "not this class": another class, as far as both figures go
        (only,) = classes
        other = np.full(len(rejected_rows), -1 if only != -1 else -2, np.int64)
        labeled_rows = np.concatenate(
            [np.asarray(labeled_rows, np.int64), np.asarray(rejected_rows, np.int64)]
        )
        labeled_classes = np.concatenate([np.asarray(labeled_classes, np.int64), other])
        labeled_unit = unit_vectors[labeled_rows]
    for label_id in sorted(classes):
        members = labeled_rows[labeled_classes == label_id]
        if len(members) < min_labels:
            continue
        query_rows = rows_of(vector_ids, query_sample(vector_ids[members]))
        total = unit_vectors[query_rows].sum(axis=0)
        centre = total / max(float(np.linalg.norm(total)), 1e-12)
        sims = unit_vectors @ centre
        rows = np.nonzero(unlabeled)[0]
        if not len(rows):
            continue
        take = min(MAX_BATCH, len(rows))
        top = rows[np.argpartition(-sims[rows], take - 1)[:take]] if take < len(rows) else rows
        top = top[np.argsort(-sims[top], kind="stable")]
        # leave-one-out: the query items are scored without themselves in the mean
        labeled_sims = labeled_unit @ centre
        in_query = np.isin(labeled_rows, query_rows)
        if in_query.any():
            loo = (total[None, :] - unit_vectors[labeled_rows[in_query]]) if len(query_rows) > 1 else None
            if loo is None:
                labeled_sims[in_query] = -np.inf
            else:
                loo /= np.maximum(np.linalg.norm(loo, axis=1, keepdims=True), 1e-12)
                labeled_sims[in_query] = np.einsum("ij,ij->i", loo, unit_vectors[labeled_rows[in_query]])
        keep = np.isfinite(labeled_sims)
        calibration = Calibration(
            labeled_sims[keep],
            labeled_classes[keep] == label_id,
            "labeled items (leave one out)",
            0,
            SIMILARITY_PRIOR_WEIGHT,
        )
        sizes = SIMILARITY_SIZES[:3] if one_class else SIMILARITY_SIZES  # nothing says where it ends
        scale = scales(label_id) if scales is not None else 1.0
        cut = best_cut(
            sims[top],
            calibration,
            sizes,
            MIN_SIMILARITY_PRECISION,
            prior_of_scores=False,
            prior=SIMILARITY_PRIOR,
            item_precision=_capped(
                neighbour_votes(unit_vectors[top[: max(sizes)]], labeled_unit, labeled_classes == label_id),
                (class_probability or {}).get(label_id),
                top[: max(sizes)],
                (class_calibration or {}).get(label_id),
            ),
            scale=scale,
        )
        if cut is None:
            continue
        batches.append(
            SimilarityBatch(
                label_id,
                vector_ids[query_rows].tolist(),
                vector_ids[top[cut.rows]].tolist(),
                cut,
            )
        )
    return batches


def _capped(
    votes: np.ndarray,
    probability: np.ndarray | None,
    rows: np.ndarray,
    calibration: PlattCalibration | None = None,
) -> np.ndarray:
    """The votes, each no higher than the classifier's probability of the class where it has one
    (``SIMILARITY_CAP`` "mean" with a ``calibration``: the mean of each vote and its calibrated
    probability)."""
    if probability is None:
        return votes
    scored = np.asarray(probability, np.float64)[rows]
    if SIMILARITY_CAP == "mean" and calibration is not None:
        known = np.isfinite(scored)
        calibrated = calibration.item_precision(np.where(known, scored, 0.5))
        return np.where(known, (votes + calibrated) / 2, votes)
    return np.where(np.isfinite(scored), np.minimum(votes, scored), votes)


def one_against_rest(
    held_probabilities: np.ndarray, held_label_ids: list[int], held_labels: np.ndarray, source: str
) -> dict[int, PlattCalibration]:
    """Per class, how often "the classifier's probability of it is p" means "it is of the class":
    a Platt fit on every held-out labeled item (``held_labels``: each one's single label, -1 for
    none or several, left out)."""
    keep = np.asarray(held_labels) >= 0
    probs = np.asarray(held_probabilities, np.float64)[keep]
    labels = np.asarray(held_labels)[keep]
    return {
        label_id: PlattCalibration(probs[:, column], labels == label_id, source)
        for column, label_id in enumerate(held_label_ids)
        if len(labels)
    }


NEIGHBOURS = 5  # labeled neighbours whose labels vote on a candidate's class
VOTE_PRIOR_WEIGHT = 1.0  # pseudo-votes at SIMILARITY_PRIOR added to theirs
MAX_VOTERS = 2000  # labeled items the votes consult at most (bounded work)


def neighbour_votes(
    candidates: np.ndarray, labeled: np.ndarray, is_class: np.ndarray, neighbours: int = NEIGHBOURS
) -> np.ndarray:
    """Per candidate (unit vectors), the share of its ``neighbours`` nearest labeled items (cosine)
    that hold the class, smoothed towards ``SIMILARITY_PRIOR`` with ``VOTE_PRIOR_WEIGHT``.

    The leave-one-out figure of a similarity page looks at how near the class's labeled items lie
    to their own mean: items earlier pages labeled were chosen by that same nearness, so it
    promised 0.95 for a page that was 0.25 right on the demo. A candidate's own neighbourhood says
    when it lies among another class's labeled items."""
    if not len(candidates):
        return np.zeros(0, np.float64)
    if not len(labeled):
        return np.full(len(candidates), SIMILARITY_PRIOR, np.float64)
    if len(labeled) > MAX_VOTERS:  # an even spread of them
        keep = spread(MAX_VOTERS, len(labeled))
        labeled, is_class = labeled[keep], is_class[keep]
    # a class with n labeled items fills at most n neighbourhood places
    k = max(1, min(neighbours, len(labeled), int(np.count_nonzero(is_class))))
    sims = np.asarray(candidates, np.float32) @ np.asarray(labeled, np.float32).T
    nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    votes = np.asarray(is_class, np.float64)[nearest].sum(axis=1)
    return (votes + VOTE_PRIOR_WEIGHT * SIMILARITY_PRIOR) / (k + VOTE_PRIOR_WEIGHT)


def leave_one_out_votes(
    labeled: np.ndarray, is_class: np.ndarray, neighbours: int = NEIGHBOURS
) -> tuple[np.ndarray, np.ndarray]:
    """``neighbour_votes`` of the labeled items themselves, each without its own vote (an even
    spread of ``MAX_VOTERS`` of them where more): (votes, is_class) of the items scored, what a fit
    of "how often a candidate with these votes is of the class" rests on."""
    if len(labeled) > MAX_VOTERS:
        keep = spread(MAX_VOTERS, len(labeled))
        labeled, is_class = labeled[keep], is_class[keep]
    is_class = np.asarray(is_class, bool)
    if len(labeled) < 2:
        return np.full(len(labeled), SIMILARITY_PRIOR, np.float64), is_class
    # as for a candidate: a class with n labeled items fills at most n places of n - 1 voters
    k = max(1, min(neighbours, len(labeled) - 1, int(np.count_nonzero(is_class))))
    points = np.asarray(labeled, np.float32)
    sims = points @ points.T
    np.fill_diagonal(sims, -np.inf)
    nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    votes = is_class.astype(np.float64)[nearest].sum(axis=1)
    return (votes + VOTE_PRIOR_WEIGHT * SIMILARITY_PRIOR) / (k + VOTE_PRIOR_WEIGHT), is_class


# ---- items to label one by one ---------------------------------------------------------------


def _min_sq_distance(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    if not len(centres):
        return np.full(len(points), np.inf, np.float32)
    best = np.full(len(points), np.inf, np.float32)
    for start in range(0, len(centres), 512):
        block = centres[start : start + 512]
        d = (points**2).sum(axis=1)[:, None] - 2.0 * points @ block.T + (block**2).sum(axis=1)[None, :]
        best = np.minimum(best, d.min(axis=1))
    return np.maximum(best, 0.0)


def k_center(
    points: np.ndarray, centres: np.ndarray, count: int, weights: np.ndarray | None = None
) -> list[int]:
    """Greedy k-center: repeatedly the point farthest from every centre (labeled items and the
    points chosen so far), its distance scaled by ``weights`` (uncertainty). Returns row indices."""
    points = np.asarray(points, np.float32)
    distance = _min_sq_distance(points, np.asarray(centres, np.float32))
    if not np.isfinite(distance).any():  # no centre yet: start from the most typical point
        mean = points.mean(axis=0, keepdims=True)
        first = int(_min_sq_distance(points, mean).argmin()) if len(points) else 0
        chosen = [first] if len(points) else []
        distance = _min_sq_distance(points, points[chosen]) if chosen else distance
    else:
        chosen = []
    weight = np.ones(len(points), np.float32) if weights is None else np.asarray(weights, np.float32)
    while len(chosen) < min(count, len(points)):
        score = np.sqrt(distance) * weight
        score[chosen] = -1.0
        pick = int(score.argmax())
        if score[pick] <= 0 and chosen:
            break
        chosen.append(pick)
        distance = np.minimum(distance, _min_sq_distance(points, points[pick : pick + 1]))
    return chosen


def k_means_centres(points: np.ndarray, count: int, seed: int = 0, rounds: int = 8) -> list[int]:
    """The point nearest each of ``count`` k-means centres (k-means++ start, a few Lloyd rounds):
    representative items of the main groups, for a dataset with no labels yet."""
    points = np.asarray(points, np.float32)
    count = min(count, len(points))
    if count == 0:
        return []
    rng = np.random.default_rng(seed)
    centres = points[[int(rng.integers(len(points)))]]
    while len(centres) < count:
        d = _min_sq_distance(points, centres)
        total = float(d.sum())
        pick = int(rng.choice(len(points), p=d / total)) if total > 0 else int(rng.integers(len(points)))
        centres = np.vstack([centres, points[pick : pick + 1]])
    for _ in range(rounds):
        d = (points**2).sum(1)[:, None] - 2 * points @ centres.T + (centres**2).sum(1)[None, :]
        nearest = d.argmin(axis=1)
        for c in range(count):
            members = points[nearest == c]
            if len(members):
                centres[c] = members.mean(axis=0)
    d = (points**2).sum(1)[:, None] - 2 * points @ centres.T + (centres**2).sum(1)[None, :]
    chosen: list[int] = []
    for c in np.argsort(np.bincount(d.argmin(axis=1), minlength=count))[::-1]:  # biggest group first
        order = np.argsort(d[:, c])
        free = [int(r) for r in order if int(r) not in chosen][:1]
        chosen.extend(free)
    return chosen


def margins(probabilities: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 probability per row (small: the model hesitates)."""
    probs = np.asarray(probabilities, np.float32)
    if probs.shape[1] < 2:
        return np.ones(len(probs), np.float32)
    part = np.partition(probs, probs.shape[1] - 2, axis=1)
    return part[:, -1] - part[:, -2]


def spread(count: int, total: int) -> np.ndarray:
    """``count`` positions evenly spread over ``total`` (a sample that covers the whole dataset)."""
    if total <= count:
        return np.arange(total)
    return np.linspace(0, total - 1, count).round().astype(np.int64)
