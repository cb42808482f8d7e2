"""The tree layout and the chart geometry, on small hand-made inputs."""

from __future__ import annotations

from clade.archive.views import TreeNode
from clade.orchestrator.dashboard.charts import line_chart
from clade.orchestrator.dashboard.tree import layout_tree, node_radius, score_colour


def test_leaves_sit_side_by_side_and_parents_over_their_children():
    a, b, c = (
        TreeNode("a", "admitted", 1, 0.5),
        TreeNode("b", "rejected", 1, 0.0),
        TreeNode("c", "failed", 2, None),
    )
    a.children.append(c)
    root = TreeNode("r", "admitted", 0, 1.0, [a, b])
    layout = layout_tree([root])
    where = {n.id: (n.x, n.y) for n in layout.nodes}
    assert [n.id for n in layout.nodes] == ["r", "a", "c", "b"]
    assert where["c"][0] < where["b"][0] and where["a"][0] == where["c"][0]
    assert where["r"][0] == (where["a"][0] + where["b"][0]) / 2
    assert where["r"][1] < where["a"][1] < where["c"][1]
    assert len(layout.edges) == 3 and layout.width > 0 and layout.height > where["c"][1]
    sizes = {n.id: n.r for n in layout.nodes}
    assert sizes["r"] > sizes["a"] > sizes["c"] == node_radius(0)


def test_a_deep_lineage_does_not_recurse():
    node = root = TreeNode("n0", "admitted", 0, 0.1)
    for i in range(1, 3000):
        child = TreeNode(f"n{i}", "admitted", i, 0.1)
        node.children.append(child)
        node = child
    assert len(layout_tree([root]).nodes) == 3000


def test_colours_run_from_red_to_green_and_grey_for_none():
    assert score_colour(0.0) == "hsl(0, 65%, 45%)"
    assert score_colour(1.0) == "hsl(120, 65%, 45%)"
    assert score_colour(None) == "#b9b9b9"


def test_chart_breaks_lines_at_missing_values_and_keeps_dots():
    chart = line_chart(
        "t", [0, 1, 2, 3], [("s", "#000", [0.1, None, 0.5, 0.9], False)], y_range=(0, 1)
    )
    assert not chart.empty
    assert len(chart.series[0].paths) == 1  # 0.5 -> 0.9; the lone 0.1 is only a dot
    assert len(chart.series[0].dots) == 3
    ys = [y for _, y, _ in chart.series[0].dots]
    assert ys[0] > ys[1] > ys[2]  # higher scores are drawn higher up


def test_an_empty_chart_says_so():
    assert line_chart("t", [], [("s", "#000", [], False)]).empty
    assert line_chart("t", [0], [("s", "#000", [None], False)]).empty
