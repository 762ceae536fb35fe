"""Group fairness metrics: per-group accuracy, demographic parity and equalized odds against hand-computed values,
binary and multi-class, the JSON report, its markdown table and bar chart, and bad input."""

import json

import numpy as np
import pytest

from ganapps import fairness

# Two groups, binary labels. Written out per group so every rate below can be checked by eye.
#   group "a": truth 1 1 0 0      pred 1 0 1 0        accuracy 2/4, selection 2/4, TPR 1/2, FPR 1/2
#   group "b": truth 1 1 1 0 0 0  pred 1 1 1 0 0 1    accuracy 5/6, selection 4/6, TPR 3/3, FPR 1/3
GROUPS = np.array(["a"] * 4 + ["b"] * 6)
TRUTH = np.array([1, 1, 0, 0, 1, 1, 1, 0, 0, 0])
PRED = np.array([1, 0, 1, 0, 1, 1, 1, 0, 0, 1])


def test_binary_two_groups_by_hand():
    assert fairness.per_group_accuracy(TRUTH, PRED, GROUPS) == pytest.approx({"a": 2 / 4, "b": 5 / 6})
    assert fairness.worst_group_accuracy(TRUTH, PRED, GROUPS) == ("a", pytest.approx(0.5))
    assert fairness.demographic_parity_difference(PRED, GROUPS) == pytest.approx(4 / 6 - 2 / 4)
    tpr_range, fpr_range = 3 / 3 - 1 / 2, 1 / 2 - 1 / 3
    assert fairness.equalized_odds_difference(TRUTH, PRED, GROUPS) == pytest.approx(max(tpr_range, fpr_range))
    # positive=0 swaps the roles: selection of 0 is 2/4 vs 2/6; TPR of 0 is the old TNR (1/2 vs 2/3),
    # FPR of 0 the old FNR (1/2 vs 0).
    assert fairness.demographic_parity_difference(PRED, GROUPS, positive=0) == pytest.approx(2 / 4 - 2 / 6)
    assert fairness.equalized_odds_difference(TRUTH, PRED, GROUPS, positive=0) == pytest.approx(
        max(2 / 3 - 1 / 2, 1 / 2 - 0))


def test_fair_predictions_score_zero_and_unfair_ones_do_not():
    groups = np.repeat([0, 1], 50)
    truth = np.tile([0, 1], 50)
    assert fairness.demographic_parity_difference(truth, groups) == 0.0
    assert fairness.equalized_odds_difference(truth, truth, groups) == 0.0
    always_one_for_group_1 = np.where(groups == 1, 1, truth)
    assert fairness.demographic_parity_difference(always_one_for_group_1, groups) == pytest.approx(0.5)
    assert fairness.equalized_odds_difference(truth, always_one_for_group_1, groups) == pytest.approx(1.0)


def test_multiclass_is_the_largest_one_vs_rest_difference():
    groups = np.repeat([0, 1], 4)
    truth = np.array([0, 1, 2, 2, 0, 0, 1, 2])
    pred = np.array([0, 1, 1, 1, 0, 2, 1, 2])
    # selection rate per class, (group 0, group 1): class 0 (1/4, 1/4), class 1 (3/4, 1/4), class 2 (0, 2/4)
    selection = {0: (1 / 4, 1 / 4), 1: (3 / 4, 1 / 4), 2: (0, 2 / 4)}
    # (TPR g0, TPR g1), (FPR g0, FPR g1) per class, one class against the rest:
    #   class 0: TPR 1/1, 1/2; FPR 0/3, 0/2
    #   class 1: TPR 1/1, 1/1; FPR 2/3, 0/3
    #   class 2: TPR 0/2, 1/1; FPR 0/2, 1/3
    rates = {0: ((1, 1 / 2), (0, 0)), 1: ((1, 1), (2 / 3, 0)), 2: ((0, 1), (0, 1 / 3))}
    spread = lambda pair: max(pair) - min(pair)  # noqa: E731
    assert fairness.demographic_parity_difference(pred, groups) == pytest.approx(
        max(spread(s) for s in selection.values()))
    assert fairness.equalized_odds_difference(truth, pred, groups) == pytest.approx(
        max(max(spread(tpr), spread(fpr)) for tpr, fpr in rates.values()))
    for label, (tpr, fpr) in rates.items():
        assert fairness.demographic_parity_difference(pred, groups, positive=label) == pytest.approx(
            spread(selection[label]))
        assert fairness.equalized_odds_difference(truth, pred, groups, positive=label) == pytest.approx(
            max(spread(tpr), spread(fpr)))


def test_binary_default_agrees_with_one_vs_rest_and_string_labels():
    rng = np.random.default_rng(0)
    truth, pred, groups = rng.integers(0, 2, 200), rng.integers(0, 2, 200), rng.integers(0, 3, 200)
    words = np.array(["no", "yes"])
    for metric, args in ((fairness.demographic_parity_difference, (pred,)),
                         (fairness.equalized_odds_difference, (truth, pred))):
        as_one = metric(*args, groups, positive=1)
        assert metric(*args, groups) == as_one
        assert metric(*args, groups, positive=0) == pytest.approx(as_one)  # class 0 mirrors class 1
        assert metric(*(words[a] for a in args), groups) == pytest.approx(as_one)
        assert as_one > 0


def test_groups_without_positives_or_negatives_are_skipped_for_that_rate():
    # group "c" holds only negatives: it has an FPR (1/2) but no TPR, which must not count as 0.
    groups = np.array(["a"] * 4 + ["b"] * 4 + ["c"] * 2)
    truth = np.array([1, 1, 0, 0, 1, 1, 0, 0, 0, 0])
    pred = np.array([1, 1, 0, 0, 1, 0, 0, 0, 1, 0])
    # TPR a 2/2, b 1/2, c undefined; FPR a 0/2, b 0/2, c 1/2
    assert fairness.equalized_odds_difference(truth, pred, groups) == pytest.approx(max(1 - 1 / 2, 1 / 2 - 0))
    # only "a" has positives, so there is no TPR range (a 3/3, b undefined); FPR a 0/1, b 4/6
    truth = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    pred = np.array([1, 1, 1, 0, 1, 0, 0, 1, 1, 1])
    groups = np.array(["a"] * 4 + ["b"] * 6)
    assert fairness.equalized_odds_difference(truth, pred, groups) == pytest.approx(4 / 6 - 0)


def test_report_is_json_sorted_and_independent_of_sample_order():
    groups = np.array([10, 2, 2, 10, 10, 2, 10, 10])
    truth = np.array([0, 1, 0, 1, 1, 0, 0, 1])
    pred = np.array([0, 1, 1, 1, 1, 0, 0, 1])
    report = fairness.group_report(truth, pred, groups)
    assert list(report) == list(fairness.REPORT_KEYS)
    assert list(report["groups"]) == ["2", "10"]  # numeric order, not string order
    assert report["n"] == 8 and report["accuracy"] == pytest.approx(7 / 8)
    assert report["groups"]["2"] == {"count": 3, "share": pytest.approx(3 / 8), "accuracy": pytest.approx(2 / 3)}
    assert report["groups"]["10"] == {"count": 5, "share": pytest.approx(5 / 8), "accuracy": pytest.approx(1.0)}
    assert report["worst_group"] == "2" and report["worst_group_accuracy"] == pytest.approx(2 / 3)
    # selection of 1: group 2 picks 2 of 3, group 10 picks 3 of 5; group 2: TPR 1/1, FPR 1/2; group 10: 3/3, 0/2
    assert report["demographic_parity_difference"] == pytest.approx(2 / 3 - 3 / 5)
    assert report["equalized_odds_difference"] == pytest.approx(max(1 - 1, 1 / 2 - 0))
    assert json.loads(json.dumps(report)) == report
    order = np.random.default_rng(1).permutation(8)
    assert json.dumps(fairness.group_report(truth[order], pred[order], groups[order])) == json.dumps(report)
    text = fairness.group_report(list(truth.astype(str)), list(pred.astype(str)), [f"g{g}" for g in groups])
    assert list(text["groups"]) == ["g10", "g2"] and json.dumps(text)
    assert fairness.per_group_accuracy(truth, pred, groups) == {2: pytest.approx(2 / 3), 10: 1.0}
    assert all(type(key) is int for key in fairness.per_group_accuracy(truth, pred, groups))


def test_markdown_table():
    report = fairness.group_report(TRUTH, PRED, np.where(GROUPS == "a", "rare|thick", "common"))
    text = fairness.group_report_markdown(report)
    lines = text.splitlines()
    assert lines[0] == "| group | count | share | accuracy |"
    assert lines[2] == "| common | 6 | 60.0% | 0.833 |"
    assert lines[3] == "| rare\\|thick | 4 | 40.0% | 0.500 |"
    assert "- worst group: rare|thick (accuracy 0.500)" in lines
    assert "- demographic parity difference: 0.167" in lines and "- equalized odds difference: 0.500" in lines
    assert fairness.markdown_cell("a|b|c") == "a\\|b\\|c" and fairness.markdown_cell(7) == "7"


def test_bar_chart_is_written_atomically_in_each_format(tmp_path):
    report = json.loads(json.dumps(fairness.group_report(TRUTH, PRED, GROUPS)))  # as the app reads it back
    png = fairness.group_bar_chart(report, tmp_path / "charts" / "groups.png", title="biased digits")
    assert png == tmp_path / "charts" / "groups.png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = fairness.group_bar_chart(report, str(tmp_path / "groups.SVG"))
    assert "<svg" in svg.read_text()
    assert fairness.group_bar_chart(report, tmp_path / "groups.pdf").read_bytes()[:4] == b"%PDF"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["groups.SVG", "groups.pdf", "groups.png"]
    with pytest.raises(ValueError, match=r"path: expected a file name ending in one of .*'.png'.*; got .*groups\.jpg"):
        fairness.group_bar_chart(report, tmp_path / "groups.jpg")
    assert not (tmp_path / "groups.jpg").exists()
    with pytest.raises(ValueError, match="report: expected a dict from group_report"):
        fairness.group_bar_chart({"accuracy": 1.0}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="title: expected None or a string; got 3"):
        fairness.group_bar_chart(report, tmp_path / "x.png", title=3)


@pytest.mark.parametrize("call, message", [
    (lambda: fairness.per_group_accuracy([0, 1, 1], [0, 1], [0, 0, 1]),
     r"y_pred: expected one entry per sample \(3\); got 2 entries"),
    (lambda: fairness.per_group_accuracy([0, 1], [0, 1], [0, 0, 1]),
     r"groups: expected one entry per sample \(2\); got 3 entries"),
    (lambda: fairness.group_report([], [], []), "y_true: expected at least one sample; got an empty array"),
    (lambda: fairness.demographic_parity_difference([], []), "y_pred: expected at least one sample"),
    (lambda: fairness.group_report([0, 1], [0, 1], [3, 3]),
     "groups: expected at least 2 different groups to compare; got only one: 3"),
    (lambda: fairness.demographic_parity_difference([0, 1], ["x", "x"]), "groups: expected at least 2 different"),
    (lambda: fairness.equalized_odds_difference([0, 1], [0, 1], [0, 0]), "groups: expected at least 2 different"),
    (lambda: fairness.per_group_accuracy([0, 1], [[0.9, 0.1], [0.2, 0.8]], [0, 1]),
     r"y_pred: expected a 1-D array with one entry per sample \(take the argmax .*; got shape \(2, 2\)"),
    (lambda: fairness.per_group_accuracy([0, 1], ["0", "1"], [0, 1]),
     r"y_pred: expected labels of the same kind as y_true \(numbers\); got strings"),
    (lambda: fairness.per_group_accuracy([0.0, np.nan], [0, 1], [0, 1]),
     "y_true: expected finite labels; got 1 NaN/Inf"),
    (lambda: fairness.per_group_accuracy([0, 1], [0, 1], np.array([1, "a"], dtype=object)),
     r"groups: expected values of one kind that sort \(all numbers or all strings\)"),
    (lambda: fairness.demographic_parity_difference([0, 1], [0, 1], positive="yes"),
     r"positive: expected labels of the same kind as y_pred \(numbers\); got strings"),
    (lambda: fairness.demographic_parity_difference([0, 1], [0, 1], positive=[1]),
     "positive: expected None or one label; got"),
    (lambda: fairness.equalized_odds_difference([0, 1], [0, 1], [0, 1], positive=7),
     r"positive: expected a label found in y_true or y_pred \(\[0, 1\]\); got 7"),
    (lambda: fairness.group_report_markdown([1, 2]), "report: expected a dict from group_report .*; got list"),
])
def test_errors_name_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_agrees_with_fairlearn_when_installed():
    metrics = pytest.importorskip("fairlearn.metrics")
    rng = np.random.default_rng(3)
    groups = rng.choice(["a", "b", "c"], 300)
    truth = rng.integers(0, 2, 300)
    pred = np.where(rng.random(300) < np.where(groups == "a", 0.9, 0.6), truth, 1 - truth)
    assert fairness.demographic_parity_difference(pred, groups) == pytest.approx(
        metrics.demographic_parity_difference(truth, pred, sensitive_features=groups))
    assert fairness.equalized_odds_difference(truth, pred, groups) == pytest.approx(
        metrics.equalized_odds_difference(truth, pred, sensitive_features=groups))
    # where they part (see equalized_odds_difference's docstring): group "c" has no positives; fairlearn counts
    # its undefined true-positive rate as 0 (TPR range 1 - 0), here it is skipped (range 1 - 1/2)
    groups = np.array(["a"] * 4 + ["b"] * 4 + ["c"] * 2)
    truth = np.array([1, 1, 0, 0, 1, 1, 0, 0, 0, 0])
    pred = np.array([1, 1, 0, 0, 1, 0, 0, 0, 1, 0])
    assert metrics.equalized_odds_difference(truth, pred, sensitive_features=groups) == pytest.approx(1.0)
    assert fairness.equalized_odds_difference(truth, pred, groups) == pytest.approx(0.5)
