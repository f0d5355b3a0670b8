"""Query pieces shared by the apps' selectors."""

from django.db.models import F, Func, QuerySet, Subquery
from django.db.models.functions import Coalesce


def count_of(rows: QuerySet) -> Coalesce:
    """How many ``rows`` there are (a queryset filtered on ``OuterRef``), as an annotation: a subquery per listed
    row, a count on an index, rather than a JOIN grouped by every column of the listed model, JSON and long texts
    included, which grows with every row joined (issue 14)."""
    counted = rows.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Coalesce(Subquery(counted), 0)
