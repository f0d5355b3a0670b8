"""The optimal policy: a MILP solved by HiGHS through :func:`scipy.optimize.milp`.

Variables: a share ``s_p`` in [0, 1] and a binary ``y_p`` ("funded") per project, with
``min_share_p · y_p ≤ s_p ≤ y_p``; maximise Σ score_p · s_p subject to the capacity, budget and org-cap rows,
each scaled by its right-hand side so that the solver sees numbers near 1. Rows with a zero right-hand side are
not sent: their members are fixed to 0 instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from .ledger import Ledger


@dataclass(frozen=True)
class MilpOutcome:
    status: str  # "optimal", "time_limit", "no_solution" or "solver_error"
    shares: list[float] | None  # the solver's s_p for funded projects (0.0 for the unfunded); None without a solution
    dual_bound: float | None  # an upper bound on Σ score · s, when the solver gives one
    message: str


def solve(ledger: Ledger, *, time_limit: float, mip_rel_gap: float) -> MilpOutcome:
    """Solve the MILP for ``ledger``'s problem; ``ledger`` is only read."""
    projects = ledger.problem.projects
    n = len(projects)
    score = np.array([float(p.score) for p in projects])
    min_share = np.array([float(p.min_share) for p in projects])
    upper = np.ones(n)
    rows: list[int] = []
    cols: list[int] = []
    data: list[float] = []
    row_count = 0
    for constraint in ledger.constraints:
        if constraint.rhs == 0:
            upper[list(constraint.members)] = 0.0
            continue
        if not constraint.members:
            continue
        rhs = float(constraint.rhs)
        for index, coefficient in constraint.members.items():
            rows.append(row_count)
            cols.append(index)
            data.append(float(coefficient) / rhs)
        row_count += 1
    resource = coo_array((data, (rows, cols)), shape=(row_count, 2 * n)).tocsr()
    # s_p - y_p <= 0 and s_p - min_share_p * y_p >= 0
    ids = np.arange(n)
    link = coo_array(
        (
            np.concatenate([np.ones(n), -np.ones(n), np.ones(n), -min_share]),
            (np.concatenate([ids, ids, ids + n, ids + n]), np.concatenate([ids, ids + n, ids, ids + n])),
        ),
        shape=(2 * n, 2 * n),
    ).tocsr()
    constraints = [
        LinearConstraint(resource, -np.inf, np.ones(row_count)),
        LinearConstraint(
            link, np.concatenate([np.full(n, -np.inf), np.zeros(n)]), np.concatenate([np.zeros(n), np.full(n, np.inf)])
        ),
    ]
    result = milp(
        c=np.concatenate([-score, np.zeros(n)]),
        integrality=np.concatenate([np.zeros(n), np.ones(n)]),
        bounds=Bounds(np.zeros(2 * n), np.concatenate([upper, upper])),
        constraints=constraints,
        options={"time_limit": time_limit, "mip_rel_gap": mip_rel_gap, "presolve": True, "disp": False},
    )
    dual_bound = None if result.mip_dual_bound is None else -float(result.mip_dual_bound)
    if result.x is None:
        status = "no_solution" if result.status == 1 else "solver_error"
        return MilpOutcome(status=status, shares=None, dual_bound=dual_bound, message=str(result.message))
    funded = result.x[n:] > 0.5
    shares = [float(s) if y else 0.0 for s, y in zip(result.x[:n], funded, strict=True)]
    status = {0: "optimal", 1: "time_limit"}.get(result.status, "solver_error")
    return MilpOutcome(status=status, shares=shares, dual_bound=dual_bound, message=str(result.message))
