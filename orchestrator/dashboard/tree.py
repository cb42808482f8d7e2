"""Lay out a run's lineage forest for an SVG drawing: leaves side by side, parents centred.

Nodes are coloured by score (red to green; grey when not scored) and sized by how many
children they have. The layout is computed iteratively, so a deep lineage cannot hit
Python's recursion limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from clade.archive.views import TreeNode

X_STEP = 34
Y_STEP = 64
MARGIN = 28


def score_colour(score: float | None) -> str:
    """An HSL colour from red (0) through yellow to green (1); grey for no score."""
    if score is None:
        return "#b9b9b9"
    hue = round(120 * min(1.0, max(0.0, score)))
    return f"hsl({hue}, 65%, 45%)"


def node_radius(children: int) -> float:
    return round(min(18.0, 6.0 + 3.0 * math.sqrt(children)), 1)


@dataclass(slots=True)
class PlacedNode:
    """One candidate drawn in the tree."""

    id: str
    status: str
    generation: int
    score: float | None
    children: int
    x: float
    y: float
    r: float
    fill: str


@dataclass(slots=True)
class Edge:
    x1: float
    y1: float
    x2: float
    y2: float
    status: str


@dataclass(slots=True)
class TreeLayout:
    """Everything the template needs to draw the forest."""

    nodes: list[PlacedNode] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    width: float = 2 * MARGIN
    height: float = 2 * MARGIN


def layout_tree(roots: list[TreeNode]) -> TreeLayout:
    """Positions for every node of ``roots`` (and their descendants) and every edge."""
    xs: dict[str, float] = {}
    depth: dict[str, int] = {}
    order: list[TreeNode] = []  # pre-order
    stack = [(root, 0) for root in reversed(roots)]
    while stack:
        node, level = stack.pop()
        depth[node.id] = level
        order.append(node)
        stack.extend((child, level + 1) for child in reversed(node.children))
    next_slot = 0
    for node in order:  # leaves take the next slot, in pre-order
        if not node.children:
            xs[node.id] = MARGIN + next_slot * X_STEP
            next_slot += 1
    for node in reversed(order):  # parents after all their descendants
        if node.children:
            xs[node.id] = (xs[node.children[0].id] + xs[node.children[-1].id]) / 2
    layout = TreeLayout()
    for node in order:
        x, y = xs[node.id], MARGIN + depth[node.id] * Y_STEP
        layout.nodes.append(
            PlacedNode(
                node.id,
                node.status,
                node.generation,
                node.score,
                len(node.children),
                x,
                y,
                node_radius(len(node.children)),
                score_colour(node.score),
            )
        )
        for child in node.children:
            layout.edges.append(
                Edge(x, y, xs[child.id], MARGIN + (depth[node.id] + 1) * Y_STEP, child.status)
            )
    if order:
        layout.width = MARGIN * 2 + max(0, next_slot - 1) * X_STEP
        layout.height = MARGIN * 2 + max(depth.values()) * Y_STEP
    return layout
