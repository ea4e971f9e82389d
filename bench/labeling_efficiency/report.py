"""The study's figures: the table printed, the targets checked, the plots drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MODES = ("guided", "guided_without_guardrails", "manual")
CALIBRATION_GAP = 0.05  # issue 18: mean absolute gap of promised and measured batch precision
FEWER_THAN_MANUAL = 5.0  # issue 18 on real data: at least this many times fewer actions


def check_targets(
    guided: dict[str, Any], manual: dict[str, Any], fraction: float, accuracy: float, actions_per_label: float
) -> dict[str, Any]:
    """Issue 18's targets for the queue-driven session. Manual labeling takes one action per
    label, so "x times fewer actions than manual at the same coverage" is labels per action."""
    gap = guided.get("calibration", {}).get("mean_absolute_gap")
    fewer = guided["labels_per_action"] if manual["accuracy"] >= guided["accuracy"] else None
    return {
        "labeled_fraction": {"target": fraction, "value": guided["labeled_fraction"],
                             "met": guided["labeled_fraction"] >= fraction},
        "accuracy": {"target": accuracy, "value": guided["accuracy"], "met": guided["accuracy"] >= accuracy},
        "actions_per_label": {"target": actions_per_label, "value": guided["actions_per_label"],
                              "met": guided["actions_per_label"] <= actions_per_label},
        "times_fewer_actions_than_manual": {"target": FEWER_THAN_MANUAL, "value": fewer,
                                            "met": fewer is not None and fewer >= FEWER_THAN_MANUAL},
        "calibration_gap": {"target": CALIBRATION_GAP, "value": gap,
                            "met": gap is not None and gap <= CALIBRATION_GAP},
    }  # fmt: skip


def print_report(results: dict[str, Any]) -> None:
    modes = [m for m in MODES if m in results]
    rows = [
        ("items", "items", "{}"),
        ("labeled", "labeled", "{}"),
        ("labeled fraction", "labeled_fraction", "{:.1%}"),
        ("accuracy", "accuracy", "{:.2%}"),
        ("actions", "actions", "{}"),
        ("labels per action", "labels_per_action", "{:.1f}"),
        ("actions per label", "actions_per_label", "{:.4f}"),
        ("wall time (s)", "wall_seconds", "{:.1f}"),
        ("waiting for jobs (s)", "job_wait_seconds", "{:.1f}"),
        ("jobs started", "jobs_started", "{}"),
    ]
    titles = {"guided": "queue", "guided_without_guardrails": "queue, no flags", "manual": "manual"}
    print(f"{'':<24}" + "".join(f"{titles[m]:>17}" for m in modes))
    for title, key, fmt in rows:
        print(f"{title:<24}" + "".join(f"{fmt.format(results[m][key]):>17}" for m in modes))
    for mode in modes[:-1]:
        run = results[mode]
        kinds = ", ".join(f"{k} {v}" for k, v in run["actions_by_kind"].items())
        print(f"{titles[mode]}: actions by kind: {kinds}; stopped: {run.get('stopped_by')}")
        left = ", ".join(f"{k} {v}" for k, v in run.get("unlabeled_by_class", {}).items())
        print(f"{titles[mode]}: left unlabeled by true class: {left or 'none'}")
        share = run.get("batch_wrong_share")
        print(
            f"{titles[mode]}: batches wrote {run.get('batch_labels_written', 0)} labels, "
            f"{run.get('batch_wrong_written', 0)} wrong before any fix"
            + (f" ({share:.2%})" if share is not None else "")
            + f"; {run.get('labeled_in_place', 0)} wrong items read were labeled in place (manual); "
            f"{run.get('accepted_as_shown', 0)} items to label one by one accepted with the class shown"
        )
        calibration = run.get("calibration") or {}
        if calibration.get("mean_absolute_gap") is not None:
            print(
                f"{titles[mode]}: calibration over {calibration['batches']} batches: mean |promised - "
                f"measured| precision = {calibration['mean_absolute_gap']:.3f}"
                + _more_calibration(calibration)
            )
            for kind, of_kind in (calibration.get("by_kind") or {}).items():
                print(
                    f"{titles[mode]}:   {kind}: {of_kind['batches']} batches, promised "
                    f"{of_kind['mean_promised']:.3f}, held {of_kind['mean_held']:.3f}, |gap| "
                    f"{of_kind['mean_absolute_gap']:.3f}" + _more_calibration(of_kind)
                )
    manual, guided = results["manual"], results["guided"]
    if guided["actions"]:
        print(f"actions, manual / queue: {manual['actions'] / guided['actions']:.1f}x fewer with the queue")
    for name, check in results["targets"].items():
        verdict = "OK" if check["met"] else "MISSED"
        value = "n/a" if check["value"] is None else f"{check['value']:.4f}"
        print(f"target {name}: {value} vs {check['target']:.4f}  {verdict}")


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    styles = {"guided": "-", "guided_without_guardrails": "-.", "manual": "--"}
    for mode in (m for m in MODES if m in results):
        timeline = results[mode]["timeline"]
        style = styles[mode]
        ax.step(
            [t[0] for t in timeline], [t[2] for t in timeline], style, where="post", label=f"{mode}: correct"
        )
        ax.step([t[0] for t in timeline], [t[1] for t in timeline], style, where="post", alpha=0.35,
                label=f"{mode}: labeled")  # fmt: skip
    ax.axhline(results["folder_items"] * results["target_fraction"], color="grey", lw=0.8, ls=":")
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlim(left=0)  # symlog would otherwise show an empty negative half
    ax.set_xlabel("actions (accepts, deselections, fixes, manual labels, jobs)")
    ax.set_ylabel("items")
    ax.set_title("Labeled and correctly labeled items against actions")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_calibration(results: dict[str, Any], path: Path) -> None:
    """Each accepted batch: the precision the queue promised against the one measured."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), dpi=110)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    for mode, marker in (("guided", "o"), ("guided_without_guardrails", "x")):
        calibration = (results.get(mode) or {}).get("calibration") or {}
        pairs = calibration.get("pairs") or []
        if pairs:
            gap = calibration["mean_absolute_gap"]
            ax.scatter([p[0] for p in pairs], [p[1] for p in pairs], marker=marker, alpha=0.7,
                       label=f"{mode}: {len(pairs)} batches, mean gap {gap:.3f}")  # fmt: skip
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("expected precision (the queue's promise)")
    ax.set_ylabel("measured precision (ground truth)")
    ax.set_title("Calibration of accepted batches")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _more_calibration(found: dict[str, Any]) -> str:
    """The signed gap and the noise floor, where the run recorded them (older runs did not)."""
    if found.get("mean_signed_gap") is None:
        return ""
    floor = found["noise_floor"]
    return f" (signed {found['mean_signed_gap']:+.3f}; an exact promise on pages this size: {floor:.3f})"
