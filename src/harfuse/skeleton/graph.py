"""The skeleton graph of a joint format as the adjacency a graph convolution uses.

ST-GCN (Yan et al., AAAI 2018) splits each joint's neighbourhood (itself and the joints one
bone away) into three partitions by distance to the skeleton's centre: the joint itself,
the neighbours nearer the centre (centripetal), and those farther (centrifugal). Each
partition gets its own weights, so a filter can tell "towards the body" from "towards the
extremities". Distance here is the number of bones to the nearest of the format's
``graph_centre`` joints.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from harfuse.skeleton.formats import JointFormat


def hop_distances(fmt: JointFormat, sources: tuple[int, ...]) -> np.ndarray:
    """Bones from each joint to the nearest of ``sources``, ``(J,)`` int; -1 if unreachable."""
    neighbours: list[list[int]] = [[] for _ in range(fmt.num_joints)]
    for i, j in fmt.edges:
        neighbours[i].append(j)
        neighbours[j].append(i)
    dist = np.full(fmt.num_joints, -1, dtype=np.int64)
    queue = deque(sources)
    dist[list(sources)] = 0
    while queue:
        v = queue.popleft()
        for w in neighbours[v]:
            if dist[w] < 0:
                dist[w] = dist[v] + 1
                queue.append(w)
    return dist


def spatial_adjacency(fmt: JointFormat) -> np.ndarray:
    """ST-GCN's spatial-partition adjacency, ``(3, J, J)`` float32.

    ``A[k, v, w]`` is the weight with which joint ``v`` feeds joint ``w`` in partition
    ``k``: a graph convolution computes ``y[w] = sum_k sum_v x[v] A[k, v, w] W_k``.

    - ``k = 0`` (root): ``v`` is ``w`` itself, or a neighbour as far from the centre as
      ``w`` (only in formats whose bones form cycles).
    - ``k = 1`` (centripetal): ``v`` is a neighbour nearer the centre than ``w``.
    - ``k = 2`` (centrifugal): ``v`` is a neighbour farther from the centre.

    Each partition is normalised by its own in-degree, as in the paper (ST-GCN's code
    normalises the summed adjacency instead): every column of ``A[k]`` sums to 1, or is
    all 0 where ``w`` has no neighbour in partition ``k``, so each partition averages its
    neighbours rather than summing them and a joint's many bones do not inflate its scale.
    """
    dist = hop_distances(fmt, fmt.graph_centre)
    if (dist < 0).any():
        missing = [fmt.joints[i] for i in np.flatnonzero(dist < 0)]
        raise ValueError(f"joint format {fmt.name}: {missing} not connected to the centre")
    n = fmt.num_joints
    adj = np.zeros((3, n, n), dtype=np.float64)
    adj[0, np.arange(n), np.arange(n)] = 1.0
    for i, j in fmt.edges:
        for v, w in ((i, j), (j, i)):
            part = 0 if dist[v] == dist[w] else 1 if dist[v] < dist[w] else 2
            adj[part, v, w] = 1.0
    degree = adj.sum(axis=1, keepdims=True)  # (3, 1, J): in-degree of each joint w
    return np.divide(adj, degree, out=np.zeros_like(adj), where=degree > 0).astype(np.float32)
