"""The progress plot of a run: score per candidate, best so far, cumulative cost.

matplotlib (the ``plot`` extra) is imported here, lazily, with the Agg backend, so the
archive itself never needs it.
"""

from __future__ import annotations

from pathlib import Path

from clade.archive.errors import ConfigError
from clade.archive.views import CurvePoint


def plot_progress(points: list[CurvePoint], out: Path, title: str) -> Path:
    """Draw `points` into the image file `out` (format from its suffix)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError(
            "plotting needs matplotlib", hint="pip install 'clade-agents[plot]'"
        ) from exc
    figure, ax = plt.subplots(figsize=(9, 4.5))
    try:
        scored = [p for p in points if p.score is not None]
        ax.scatter([p.index for p in scored], [p.score or 0.0 for p in scored], s=12, alpha=0.6,
                   label="candidate score")  # fmt: skip
        best = [p for p in points if p.best is not None]
        ax.step([p.index for p in best], [p.best or 0.0 for p in best], where="post", color="tab:green",
                linewidth=2, label="best so far")  # fmt: skip
        ax.set_xlabel("candidate (creation order)")
        ax.set_ylabel("score")
        ax.set_title(title)
        cost_ax = ax.twinx()
        cost_ax.plot([p.index for p in points], [p.cost_usd for p in points], color="tab:red",
                     linestyle="--", label="cumulative cost")  # fmt: skip
        cost_ax.set_ylabel("cost (USD)")
        handles, labels = ax.get_legend_handles_labels()
        more_handles, more_labels = cost_ax.get_legend_handles_labels()
        ax.legend(handles + more_handles, labels + more_labels, loc="lower right")
        figure.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(out, dpi=120)
    finally:
        plt.close(figure)
    return out
