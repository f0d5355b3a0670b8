import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.accounts.enums import OrganisationType
from portal.proposals.enums import ProposalState
from portal.proposals.models import Proposal

from .selectors import SORT_KEYS

YES_NO = [("yes", _("Yes")), ("no", _("No"))]
SORTS = [
    ("score", _("Ranking score")),
    ("calibrated", _("Calibrated mean")),
    ("raw", _("Raw mean")),
    ("spread", _("Spread")),
]
assert {key for key, _label in SORTS} == set(SORT_KEYS)


class RankingFilter(django_filters.FilterSet):
    """Filters on the proposals themselves run in the database; those on scores (passes, flagged) and the sort
    order are applied to the computed rows, and never to a proposal the viewer is conflicted on."""

    q = django_filters.CharFilter(label=_("Reference or title contains"), method="search")
    state = django_filters.ChoiceFilter(label=_("State"), choices=ProposalState.choices)
    org_type = django_filters.ChoiceFilter(
        label=_("Organisation type"), field_name="organisation__org_type", choices=OrganisationType.choices
    )
    passes = django_filters.ChoiceFilter(label=_("Passes"), choices=YES_NO, method="on_rows")
    flagged = django_filters.ChoiceFilter(label=_("Reviewers disagree"), choices=YES_NO, method="on_rows")
    sort = django_filters.ChoiceFilter(label=_("Sort by"), choices=SORTS, method="on_rows", empty_label=None)

    class Meta:
        model = Proposal
        fields = ["q", "state", "org_type"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(reference__icontains=value) | Q(title__icontains=value))

    def on_rows(self, queryset, name, value):
        return queryset

    def row_options(self) -> dict:
        data = self.form.cleaned_data if self.form.is_valid() else {}

        def yes_no(value):
            return {"yes": True, "no": False}.get(value or "")

        return {
            "sort": data.get("sort") or "score",
            "passes": yes_no(data.get("passes")),
            "flagged": yes_no(data.get("flagged")),
        }
