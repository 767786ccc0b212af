"""Numbers as a report writes them: percentages (a score beside the alert threshold stays on its
side of it), probability margins in points, seconds, and spans of frames and times. The
templates reach these through `auditor.report.narrative`."""

from __future__ import annotations


def percent(value: float) -> str:
    """0.9312 -> '93 %'; tiny non-zero values are not shown as 0."""
    if 0 < value < 0.005:
        return "< 1 %"
    return f"{value * 100:.0f} %"


def threshold_percent(threshold: float) -> str:
    """The alert threshold as a percentage, with the decimals (up to two) it needs: '90 %', '90.5 %'."""
    for digits in (0, 1):
        if abs(round(threshold * 100, digits) - threshold * 100) < 1e-9:
            return f"{threshold * 100:.{digits}f} %"
    return f"{threshold * 100:.2f} %"


def score_percent(value: float, threshold: float, fewest_digits: int = 0) -> str:
    """A score as a percentage that stays on its side of the threshold as `threshold_percent` shows
    it: 0.8977 beside 0.9 is '89.8 %', never '90 %', which would read as reaching the threshold (a
    score at or above it is never shown below it either). Every sentence or table that reads a
    score against the threshold uses this."""
    limit = float(threshold_percent(threshold).removesuffix(" %"))
    below = value < threshold
    for digits in range(fewest_digits, 4):
        shown = round(value * 100, digits)
        if (shown < limit) == below:
            return percent(value) if digits == 0 else f"{shown:.{digits}f} %"
    return f"just under {threshold_percent(threshold)}"


def percent_range(low: float, high: float, threshold: float | None = None) -> str:
    """'between 84 % and 93 %'; with one decimal where whole percents would look equal; 'of 34 %
    in every case' where even that does not tell them apart. Beside a `threshold`, each end stays
    on its side of it (`score_percent`)."""
    def shown(value: float, digits: int) -> str:
        return f"{value * 100:.{digits}f} %" if threshold is None else score_percent(value, threshold, digits)

    for digits in (0, 1):
        low_text, high_text = shown(low, digits), shown(high, digits)
        if low_text != high_text:
            return f"between {low_text} and {high_text}"
    return f"of {percent(low) if threshold is None else score_percent(low, threshold)} in every case"


def number_pair(first: float, second: float) -> tuple[str, str]:
    """Two values with just enough decimals (2 to 4) for their difference to show."""
    for digits in (2, 3, 4):
        pair = (f"{first:.{digits}f}", f"{second:.{digits}f}")
        if pair[0] != pair[1]:
            return pair
    return pair


def points(margin: float) -> str:
    """A probability margin in percentage points: '76 points', '1 point', 'less than 1 point'."""
    value = round(margin * 100)
    if value == 0:
        return "less than 1 point"
    return f"{value} point" if value == 1 else f"{value} points"


def seconds(value: float) -> str:
    """4.1 -> '4.10 s'; 75.5 -> '1 min 15.50 s'."""
    minutes, rest = divmod(value, 60)
    return f"{int(minutes)} min {rest:.2f} s" if minutes else f"{rest:.2f} s"


def frame_span(first: int, last: int) -> str:
    return f"frame {first}" if first == last else f"frames {first}\u2013{last}"


def time_span(first: float, last: float) -> str:
    return seconds(first) if first == last else f"{seconds(first)} to {seconds(last)}"
