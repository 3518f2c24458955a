"""Words that follow the interval: the decision rule, and the verb an estimate with its interval supports.

**The decision rule.** Two-sided tests at α = :data:`ALPHA`; a difference is called a difference only
when its 95% interval excludes zero and, in a family of comparisons, its Holm-adjusted p-value is below
α. :func:`direction` turns that into the verb a sentence uses — ``higher``, ``lower`` or ``no
different`` (the interval includes zero, or the family's adjustment does not let it through) — so no
page states a direction its numbers do not support. :func:`phrase` writes an estimate with its interval.
"""

from __future__ import annotations

import math

#: Two-sided significance level of every test the book reports.
ALPHA = 0.05
#: The verbs :func:`direction` chooses from: above zero, below zero, neither.
VERBS = ("higher", "lower", "no different")
#: The rule in one sentence, for pages and tables.
DECISION_RULE = (f"two-sided tests at α = {ALPHA}; a difference is stated only when its 95% interval excludes 0 "
                 "and, within a family of comparisons, its Holm-adjusted p-value is below α; otherwise it is "
                 "reported as no different (which is not a proof of equality: the interval says how large a "
                 "difference the data leave open)")


def direction(low: float, high: float, p_adjusted: float | None = None, alpha: float = ALPHA,
              verbs: tuple[str, str, str] = VERBS) -> str:
    """``verbs[0]`` ("higher") when the interval [``low``, ``high``] lies above zero, ``verbs[1]``
    ("lower") when below, else ``verbs[2]`` ("no different"). With ``p_adjusted`` (a family's
    Holm-adjusted p-value) a difference also needs ``p_adjusted < alpha``. NaN bounds give "not estimable"."""
    if any(math.isnan(float(x)) for x in (low, high)):
        return "not estimable"
    significant = p_adjusted is None or float(p_adjusted) < alpha
    if low > 0 and significant:
        return verbs[0]
    if high < 0 and significant:
        return verbs[1]
    return verbs[2]


def phrase(value: float, low: float, high: float, digits: int = 3, unit: str = "") -> str:
    """``+0.010 [+0.005, +0.016]`` (with ``unit`` after each number when given)."""
    return f"{value:+.{digits}f}{unit} [{low:+.{digits}f}{unit}, {high:+.{digits}f}{unit}]"
