"""The applicant's review preferences: areas of expertise and suggested reviewers (by email)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.proposals import services as proposal_services
from portal.reviews import services
from portal.reviews.models import ExpertiseTag, ProposalExpertise, SuggestedReviewer
from tests.factories import MembershipFactory, OrganisationFactory, open_call
from tests.factories.reviews import ReviewerProfileFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(db):
    call = open_call()
    organisation = OrganisationFactory()
    applicant = MembershipFactory(organisation=organisation).user
    return proposal_services.proposal_create(call=call, organisation=organisation, user=applicant)


def _post(client, proposal, **data):
    return client.post(reverse("reviews:preferences", args=[proposal.pk]), data)


def test_applicant_names_expertise_and_suggests_reviewers(client, draft):
    nlp = ExpertiseTag.objects.create(name="Natural language processing")
    ExpertiseTag.objects.create(name="Computer vision")
    client.force_login(draft.created_by)
    response = _post(client, draft, tags=[nlp.pk], name1="Prof Lee", email1="Lee@Example.hk", email2="ho@example.hk")
    assert response.status_code == 302
    assert list(ProposalExpertise.objects.filter(proposal=draft).values_list("tag__name", flat=True)) == [
        "Natural language processing"
    ]
    assert sorted(SuggestedReviewer.objects.filter(proposal=draft).values_list("name", "email")) == [
        ("", "ho@example.hk"),
        ("Prof Lee", "lee@example.hk"),
    ]
    assert AuditEvent.objects.filter(action="proposal.review_preferences").count() == 1
    page = client.get(reverse("reviews:preferences", args=[draft.pk])).content.decode()
    assert 'value="lee@example.hk"' in page


def test_suggestion_without_email_keeps_what_was_typed(client, draft):
    client.force_login(draft.created_by)
    response = _post(client, draft, name1="Prof Lee", email1="")
    assert response.status_code == 422
    assert response.context["form"].errors["email1"] == ["Give the suggested reviewer's email, or clear the name."]
    assert 'value="Prof Lee"' in response.content.decode()


def test_at_most_three_suggestions(draft):
    with pytest.raises(ValidationError):
        services.review_preferences_set(
            proposal=draft, user=draft.created_by, tag_ids=[], suggestions=[("", f"r{i}@example.hk") for i in range(4)]
        )


def test_preferences_of_another_organisation_are_404(client, draft):
    client.force_login(MembershipFactory().user)
    assert client.get(reverse("reviews:preferences", args=[draft.pk])).status_code == 404


def test_only_one_reviewer_suggested_by_email_is_assigned(draft):
    from tests.factories import UserFactory
    from tests.factories.proposals import AttachmentFactory, complete_draft

    applicant = draft.created_by
    proposal_services.proposal_save_draft(proposal=draft, raw=complete_draft(draft.call), user=applicant)
    AttachmentFactory(proposal=draft, uploaded_by=applicant)
    first = ReviewerProfileFactory(user__email="lee@example.hk").user
    second = ReviewerProfileFactory(user__email="ho@example.hk").user
    services.review_preferences_set(
        proposal=draft, user=applicant, tag_ids=[], suggestions=[("", "LEE@example.hk"), ("", "ho@example.hk")]
    )
    proposal_services.proposal_submit(proposal=draft, user=applicant)
    secretariat = UserFactory(role="secretariat")
    services.assignment_create(proposal=draft, reviewer=first, actor=secretariat)
    with pytest.raises(ValidationError) as excinfo:
        services.assignment_create(proposal=draft, reviewer=second, actor=secretariat)
    assert excinfo.value.message_dict == {
        "reviewer": ["A reviewer from the applicant's suggested list is already assigned."]
    }
    problem = services.assignment_problem(call=draft.call)
    assert problem.suggested[str(draft.pk)] == frozenset({str(first.pk), str(second.pk)})
    assert problem.suggested_already[str(draft.pk)] == 1
