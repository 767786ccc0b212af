"""Numbers as a report writes them, in the active language (`auditor.i18n`): percentages (a score
beside the alert threshold stays on its side of it), probability margins in points, seconds, and
spans of frames and times. The templates reach these through `auditor.report.narrative`."""

from __future__ import annotations

from auditor import i18n
from auditor.i18n import _, ngettext


def percent(value: float) -> str:
    """0.9312 -> '93%' (en), '93 %' (de, fr); tiny non-zero values are not shown as 0."""
    if 0 < value < 0.005:
        # TRANSLATORS: a share too small to show as a whole percentage; %(percent)s is "1%" as the locale writes it.
        return _("< %(percent)s") % {"percent": i18n.percent(0.01)}
    return i18n.percent(value)


def _threshold_digits(threshold: float) -> int:
    """The decimals (up to two) the alert threshold needs as a percentage: 0.9 -> 0, 0.905 -> 1."""
    return next((d for d in (0, 1) if abs(round(threshold * 100, d) - threshold * 100) < 1e-9), 2)


def threshold_percent(threshold: float) -> str:
    """The alert threshold as a percentage, with the decimals (up to two) it needs: '90%', '90.5%'."""
    return i18n.percent(threshold, _threshold_digits(threshold))


def score_percent(value: float, threshold: float, fewest_digits: int = 0) -> str:
    """A score as a percentage that stays on its side of the threshold as `threshold_percent` shows
    it: 0.8977 beside 0.9 is '89.8%', never '90%', which would read as reaching the threshold (a
    score at or above it is never shown below it either). Every sentence or table that reads a
    score against the threshold uses this."""
    limit = round(threshold * 100, _threshold_digits(threshold))
    below = value < threshold
    for digits in range(fewest_digits, 4):
        if (round(value * 100, digits) < limit) == below:
            return percent(value) if digits == 0 else i18n.percent(value, digits)
    # TRANSLATORS: a score shown beside the alert threshold it did not reach; %(threshold)s is "90%".
    return _("just under %(threshold)s") % {"threshold": threshold_percent(threshold)}


def percent_pair(low: float, high: float, threshold: float | None = None) -> tuple[str, str] | None:
    """Two scores as percentages with one decimal where whole percents would look equal; None where
    even that does not tell them apart. Beside a `threshold`, each stays on its side of it."""
    def shown(value: float, digits: int) -> str:
        return i18n.percent(value, digits) if threshold is None else score_percent(value, threshold, digits)

    for digits in (0, 1):
        low_text, high_text = shown(low, digits), shown(high, digits)
        if low_text != high_text:
            return low_text, high_text
    return None


def number_pair(first: float, second: float) -> tuple[str, str]:
    """Two values with just enough decimals (2 to 4) for their difference to show."""
    for digits in (2, 3, 4):
        pair = (i18n.number(first, digits), i18n.number(second, digits))
        if pair[0] != pair[1]:
            return pair
    return pair


def points(margin: float) -> str:
    """A probability margin in percentage points: '76 points', '1 point', 'less than 1 point'."""
    value = round(margin * 100)
    if value == 0:
        return _("less than 1 point")
    # TRANSLATORS: percentage points, the difference between two percentages.
    return ngettext("%(count)d point", "%(count)d points", value) % {"count": value}


def seconds(value: float) -> str:
    """4.1 -> '4.10 s'; 75.5 -> '1 min 15.50 s'."""
    minutes, rest = divmod(value, 60)
    if minutes:
        # TRANSLATORS: a time into the recording; %(seconds)s is a number with two decimals ("15.50").
        return _("%(minutes)d min %(seconds)s s") % {"minutes": int(minutes), "seconds": i18n.number(rest, 2)}
    # TRANSLATORS: a time into the recording; %(seconds)s is a number with two decimals ("4.10").
    return _("%(seconds)s s") % {"seconds": i18n.number(rest, 2)}


def frame_span(first: int, last: int) -> str:
    """'frame 12', 'frames 12–14', by source frame number."""
    if first == last:
        return _("frame %(number)d") % {"number": first}
    return _("frames %(first)d\u2013%(last)d") % {"first": first, "last": last}


def time_span(first: float, last: float) -> str:
    """'4.10 s', '4.10 s to 6.20 s'."""
    if first == last:
        return seconds(first)
    # TRANSLATORS: a stretch of the recording; both are times such as "4.10 s".
    return _("%(start)s to %(end)s") % {"start": seconds(first), "end": seconds(last)}
