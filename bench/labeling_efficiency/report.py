"""The study's figures: the table printed, the targets checked, the plot drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def check_targets(guided: dict[str, Any], fraction: float, accuracy: float, actions_per_label: float) -> dict:
    return {
        "labeled_fraction": {"target": fraction, "value": guided["labeled_fraction"],
                             "met": guided["labeled_fraction"] >= fraction},
        "accuracy": {"target": accuracy, "value": guided["accuracy"], "met": guided["accuracy"] >= accuracy},
        "actions_per_label": {"target": actions_per_label, "value": guided["actions_per_label"],
                              "met": guided["actions_per_label"] <= actions_per_label},
    }  # fmt: skip


def print_report(results: dict[str, Any]) -> None:
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
    print(f"{'':<24}{'guided':>14}{'manual':>14}")
    for title, key, fmt in rows:
        print(f"{title:<24}{fmt.format(results['guided'][key]):>14}{fmt.format(results['manual'][key]):>14}")
    kinds = results["guided"]["actions_by_kind"]
    print("guided actions by kind: " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
    left = ", ".join(f"{k} {v}" for k, v in results["guided"].get("unlabeled_by_class", {}).items())
    print(f"left unlabeled (guided), by true class: {left or 'none'}")
    manual, guided = results["manual"], results["guided"]
    if guided["actions"]:
        print(f"actions, manual / guided: {manual['actions'] / guided['actions']:.1f}x fewer with guidance")
    for name, check in results["targets"].items():
        verdict = "OK" if check["met"] else "MISSED"
        print(f"target {name}: {check['value']:.4f} vs {check['target']:.4f}  {verdict}")


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for mode, style in (("guided", "-"), ("manual", "--")):
        timeline = results[mode]["timeline"]
        ax.step(
            [t[0] for t in timeline], [t[2] for t in timeline], style, where="post", label=f"{mode}: correct"
        )
        ax.step([t[0] for t in timeline], [t[1] for t in timeline], style, where="post", alpha=0.35,
                label=f"{mode}: labeled")  # fmt: skip
    ax.axhline(results["folder_items"] * results["target_fraction"], color="grey", lw=0.8, ls=":")
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlim(left=0)  # symlog would otherwise show an empty negative half
    ax.set_xlabel("actions (clicks that label, deselections, manual labels, jobs)")
    ax.set_ylabel("items")
    ax.set_title("Labeled and correctly labeled items against actions")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
