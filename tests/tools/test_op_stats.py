import math

import pytest

import tests.tiny_space  # noqa: F401
from spaces import get
from tools import op_stats

SPACE = get("tiny")
# Ten hand-scored architectures (first-second-third), best first.
SCORED = [("large-large-large", 10.0), ("large-small-large", 9.0), ("large-medium-small", 8.0),
          ("medium-large-large", 7.0), ("small-large-medium", 6.0), ("medium-small-small", 5.0),
          ("small-small-small", 4.0), ("small-medium-large", 3.0), ("medium-medium-medium", 2.0),
          ("small-large-small", 1.0)]


def stat(rows, position, op):
    return next(r for r in rows if (r.position, r.op) == (position, op))


def test_counts_frequencies_enrichment_and_means_on_ten_hand_made_cells():
    rows = op_stats.op_table(SPACE, list(reversed(SCORED)), k=3)  # order does not matter
    large = stat(rows, "first", "large")
    # top 3 all start large; of the other 7 none does
    assert (large.top_count, large.top_freq, large.rest_count, large.rest_freq) == (3, 1.0, 0, 0.0)
    assert large.enrichment is None and (large.n_with, large.n_without) == (3, 7)
    assert large.mean_with == pytest.approx(9.0) and large.mean_without == pytest.approx(28 / 7)
    small = stat(rows, "first", "small")  # rest: small in 4 of 7; top: none
    assert (small.top_count, small.rest_count, small.rest_freq) == (0, 4, round(4 / 7, 4))
    assert small.enrichment == 0.0 and small.mean_with == pytest.approx((6 + 4 + 3 + 1) / 4)
    third_large = stat(rows, "third", "large")  # top: 2 of 3; rest: 2 of 7
    assert (third_large.top_count, third_large.rest_count) == (2, 2)
    assert third_large.enrichment == pytest.approx(round((2 / 3) / (2 / 7), 3))
    assert len(rows) == 9 and "enrichment" in third_large.line()


def test_frequencies_are_smoothed_and_the_prior_prefers_typical_architectures():
    table = op_stats.frequencies(SPACE, [a for a, _ in SCORED[:3]])
    assert table["first"] == {"small": 1 / 6, "medium": 1 / 6, "large": 4 / 6}
    typical = op_stats.log_prior(table, SPACE, "large-large-large")
    assert typical == pytest.approx(math.log(4 / 6) + math.log(2 / 6) + math.log(3 / 6))
    assert typical > op_stats.log_prior(table, SPACE, "small-medium-medium")


def test_top_of_reads_the_table_best_first():
    top = op_stats.top_of(SPACE, "a", 3)
    assert [arch for arch, _ in top] == ["large-large-large", "large-large-medium", "large-large-small"]
