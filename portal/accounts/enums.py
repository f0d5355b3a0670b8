from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Role(models.TextChoices):
    APPLICANT = "applicant", pgettext_lazy("role", "Applicant")
    REVIEWER = "reviewer", pgettext_lazy("role", "Reviewer")
    SECRETARIAT = "secretariat", pgettext_lazy("role", "Secretariat officer")
    COMMITTEE_MEMBER = "committee_member", pgettext_lazy("role", "Committee member")
    COMMITTEE_CHAIR = "committee_chair", pgettext_lazy("role", "Committee chair")
    APPROVING_OFFICER = "approving_officer", pgettext_lazy("role", "Approving officer")
    AUDITOR = "auditor", pgettext_lazy("role", "Auditor")


OFFICIAL_ROLES = frozenset(
    {
        Role.SECRETARIAT,
        Role.COMMITTEE_MEMBER,
        Role.COMMITTEE_CHAIR,
        Role.APPROVING_OFFICER,
        Role.AUDITOR,
    }
)
COMMITTEE_ROLES = frozenset({Role.COMMITTEE_MEMBER, Role.COMMITTEE_CHAIR})


class OrganisationType(models.TextChoices):
    UNIVERSITY = "university", _("University")
    RND_CENTRE = "rnd_centre", _("Research institute / R&D centre")
    ENTERPRISE = "enterprise", _("Enterprise")
    GOVERNMENT = "government", _("Government department")


class MembershipRole(models.TextChoices):
    ADMIN = "admin", pgettext_lazy("membership", "Administrator")
    MEMBER = "member", pgettext_lazy("membership", "Member")
