"""The public pages of calls: anyone may read them, logged in or not."""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.generic import TemplateView

from portal.accounts.enums import OrganisationType
from portal.reviews.enums import SCORE_LABELS

from .selectors import calls_by_status, calls_public


class CallListView(TemplateView):
    template_name = "calls/list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(calls=calls_by_status(), **kwargs)


class CallDetailView(TemplateView):
    template_name = "calls/detail.html"

    def get_context_data(self, **kwargs):
        call = get_object_or_404(calls_public(), reference=kwargs["reference"])
        now = timezone.now()
        status = "open" if call.is_open(now) else ("upcoming" if now < call.opens_at else "closed")
        eligible = [OrganisationType(t).label for t in call.eligible_org_types or [] if t in OrganisationType.values]
        return super().get_context_data(
            call=call,
            status=status,
            eligible=eligible,
            scale=[(n, label) for n, label in sorted(SCORE_LABELS.items(), reverse=True)],
            **kwargs,
        )
