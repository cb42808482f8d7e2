"""The gold side of a learning judge: score each version of M, keep the reports, refuse drops.

An LWE judge with a :class:`~.drift.GoldScorer` scores its seed and every proposed update
on the gold set before saving it. With a ``tolerance``, an update whose gold agreement is
lower than the current M's by more than the tolerance is refused (the anti-overfitting guard
of GEPA-style prompt evolution); a drop of exactly the tolerance is allowed. Drops are
compared as exact fractions of the gold verdicts, not as rounded shares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .drift import GoldReport, GoldScorer
    from .store import MetaPromptStore


class GoldWatch:
    """Scores M on gold (when a scorer is given), hands every report to the store."""

    def __init__(
        self, scorer: GoldScorer | None, store: MetaPromptStore, tolerance: float | None
    ) -> None:
        if tolerance is not None and scorer is None:
            from clade.archive.errors import ConfigError

            raise ConfigError(
                "gold_tolerance needs a gold set to measure agreement on",
                hint="pass a GoldScorer (clade judge: --gold-tolerance scores on the gold set)",
            )
        self.scorer, self.store, self.tolerance = scorer, store, tolerance
        #: Reports of every version of M and of every refused proposal, in order.
        self.reports: list[GoldReport] = []
        self.current: GoldReport | None = None

    def score(self, text: str, label: str) -> GoldReport | None:
        """The report of ``text``; None without a scorer."""
        return self.scorer.score(text, label=label) if self.scorer is not None else None

    def refusal(self, report: GoldReport | None) -> str:
        """Why the update scored by ``report`` is refused ("" when it is not)."""
        current = self.current
        if self.tolerance is None or report is None or current is None:
            return ""
        drop = current.hits / (2 * current.pairs) - report.hits / (2 * report.pairs)
        if drop > self.tolerance + 1e-9:
            return (
                f"refused: gold agreement {report.agreement:.4g} is {drop:.4g} below the current "
                f"{current.agreement:.4g}, more than the tolerance {self.tolerance:g}"
            )
        return ""

    def keep(
        self,
        report: GoldReport | None,
        *,
        version: int | None,
        accepted: bool | None,
        reason: str = "",
        label: str | None = None,
    ) -> None:
        """Record what became of the M that ``report`` scored (a refused one stays out of
        the versions of M, but its report is kept too)."""
        if report is None:
            return
        update = {"version": version, "accepted": accepted, "reason": reason}
        report = report.model_copy(update=update | ({"label": label} if label else {}))
        self.reports.append(report)
        if accepted is not False:
            self.current = report
        self.store.record_gold(report)


def agreement(report: GoldReport | None) -> float | None:
    """The score a version of M is saved with: its gold agreement (None: not scored)."""
    return report.agreement if report is not None else None
