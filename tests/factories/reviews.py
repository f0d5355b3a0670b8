"""Factories of the reviews app, and a submitted proposal made with the real services."""

import factory

from portal.accounts.enums import Role
from portal.proposals import services as proposal_services
from portal.reviews.models import (
    CallReviewSettings,
    Collaboration,
    ExpertiseTag,
    ProposalExpertise,
    ReviewerProfile,
    SuggestedReviewer,
)

from .accounts import MembershipFactory, OrganisationFactory, UserFactory
from .proposals import AttachmentFactory, complete_draft


class ExpertiseTagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExpertiseTag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Topic {n}")


class ReviewerFactory(UserFactory):
    role = Role.REVIEWER


class ReviewerProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReviewerProfile
        skip_postgeneration_save = True

    user = factory.SubFactory(ReviewerFactory)
    max_per_call = 6
    available = True

    @factory.post_generation
    def expertise(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.expertise.set(extracted)


class CollaborationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Collaboration

    user = factory.SubFactory(ReviewerFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    last_year = 2025


class CallReviewSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CallReviewSettings
        django_get_or_create = ("call",)


class ProposalExpertiseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProposalExpertise


class SuggestedReviewerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SuggestedReviewer


def submitted_proposal(call, *, organisation=None, co_organisations=(), title="Cantonese large language model"):
    """A proposal submitted through the real services (draft, attachment, submit)."""
    organisation = organisation or OrganisationFactory()
    applicant = MembershipFactory(organisation=organisation).user
    proposal = proposal_services.proposal_create(call=call, organisation=organisation, user=applicant)
    overrides = {"title": title}
    for i, org in enumerate(co_organisations, start=1):
        overrides.update(
            {
                f"co{i}_name": f"Co-applicant {i}",
                f"co{i}_organisation": str(org.pk),
                f"co{i}_email": f"co{i}@example.hk",
            }
        )
    proposal_services.proposal_save_draft(proposal=proposal, raw=complete_draft(call, **overrides), user=applicant)
    AttachmentFactory(proposal=proposal, uploaded_by=applicant)
    proposal_services.proposal_submit(proposal=proposal, user=applicant)
    proposal.refresh_from_db()
    return proposal


def reviews_submitted(proposal, *, secretariat, count: int | None = None, score: int = 4) -> list:
    """``count`` (default: the call's minimum) reviewers assigned, declaring no conflict and submitting a review
    with ``score`` on every criterion, through the real services."""
    from portal.reviews import services

    count = proposal.call.min_reviewers if count is None else count
    criteria = list(proposal.call.criteria.values_list("number", flat=True))
    reviews = []
    for _ in range(count):
        reviewer = ReviewerFactory()
        assignment = services.assignment_create(proposal=proposal, reviewer=reviewer, actor=secretariat)
        services.assignment_declare(assignment=assignment, user=reviewer, conflicted=False)
        data = services.ReviewInput(
            scores=dict.fromkeys(criteria, (score, "Sound.")),
            recommendation="fund",
            comments_applicant="Clear plan.",
            comments_committee="Strong team.",
        )
        reviews.append(services.review_submit(assignment=assignment, user=reviewer, data=data))
    return reviews
