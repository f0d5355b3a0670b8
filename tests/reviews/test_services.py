from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from portal.accounts.enums import Role
from portal.audit.models import AuditEvent
from portal.reviews import selectors, services
from portal.reviews.enums import AssignmentSource, AssignmentStatus, ReviewState
from portal.reviews.models import Assignment, ReminderSent, Review
from tests.factories import OrganisationFactory, UserFactory
from tests.factories.reviews import (
    CallReviewSettingsFactory,
    ExpertiseTagFactory,
    ProposalExpertiseFactory,
    ReviewerProfileFactory,
    SuggestedReviewerFactory,
    submitted_proposal,
)

from .conftest import scores_input

pytestmark = pytest.mark.integration


def test_assignment_create_emails_the_reviewer(
    call, proposal, reviewer, secretariat, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assignment = services.assignment_create(proposal=proposal, reviewer=reviewer, actor=secretariat)
    assert [m.subject for m in mail.outbox if m.to == [reviewer.email]] == [f"Please review {proposal.reference}"]
    assert f"/reviews/assignments/{assignment.pk}/" in mail.outbox[-1].body


def test_assignment_create_refuses_reviewer_over_limit(call, secretariat):
    reviewer = ReviewerProfileFactory(max_per_call=1).user
    first, second = submitted_proposal(call), submitted_proposal(call)
    services.assignment_create(proposal=first, reviewer=reviewer, actor=secretariat)
    with pytest.raises(ValidationError) as exc:
        services.assignment_create(proposal=second, reviewer=reviewer, actor=secretariat)
    assert exc.value.message_dict == {"reviewer": ["This reviewer has reached their limit for this call."]}


def test_assignment_create_refuses_second_suggested_reviewer(call, proposal, reviewer, reviewer2, secretariat):
    SuggestedReviewerFactory(proposal=proposal, reviewer=reviewer)
    SuggestedReviewerFactory(proposal=proposal, reviewer=reviewer2)
    services.assignment_create(proposal=proposal, reviewer=reviewer, actor=secretariat)
    with pytest.raises(ValidationError):
        services.assignment_create(proposal=proposal, reviewer=reviewer2, actor=secretariat)


def test_review_save_keeps_a_partial_draft(call, proposal, reviewer, assign):
    assignment = assign(proposal, reviewer)
    data = services.ReviewInput(scores={1: (4, "Good fit"), 2: (None, "")}, comments_applicant="Half done")
    review = services.review_save(assignment=assignment, user=reviewer, data=data)
    assert review.state == ReviewState.DRAFT
    assert {s.criterion.number: s.score for s in review.scores.all()} == {1: 4, 2: None, 3: None, 4: None, 5: None}
    assert review.comments_applicant == "Half done"


def test_review_submit_lists_what_is_missing(call, proposal, reviewer, assign):
    assignment = assign(proposal, reviewer)
    data = services.ReviewInput(scores={1: (4, "")}, recommendation="", comments_applicant="")
    with pytest.raises(ValidationError) as exc:
        services.review_submit(assignment=assignment, user=reviewer, data=data)
    assert sorted(exc.value.message_dict) == [
        "comments_applicant",
        "recommendation",
        "score_2",
        "score_3",
        "score_4",
        "score_5",
    ]


def test_review_needs_a_no_conflict_declaration(call, proposal, reviewer, assign):
    assignment = assign(proposal, reviewer, declare=False)
    with pytest.raises(services.PermissionDenied):
        services.review_save(assignment=assignment, user=reviewer, data=scores_input(3, 3, 3, 3, 3))


def test_review_reopen_keeps_both_versions_and_is_audited(call, proposal, reviewer, secretariat, review):
    submitted = review(proposal, reviewer, 4)
    new = services.review_reopen(review=submitted, actor=secretariat, reason="Score 2 contradicts the comment")
    submitted.refresh_from_db()
    assert (submitted.state, submitted.is_current, submitted.revision) == (ReviewState.SUBMITTED, False, 1)
    assert (new.state, new.is_current, new.revision) == (ReviewState.DRAFT, True, 2)
    assert [s.score for s in new.scores.all()] == [4, 4, 4, 4, 4]
    event = AuditEvent.objects.filter(action="review.reopen").get()
    assert event.reason == "Score 2 contradicts the comment"
    assert Review.objects.filter(assignment=submitted.assignment).count() == 2


def test_submitted_review_cannot_be_saved_again(call, proposal, reviewer, review):
    submitted = review(proposal, reviewer, 4)
    with pytest.raises(ValidationError):
        services.review_save(assignment=submitted.assignment, user=reviewer, data=scores_input(1, 1, 1, 1, 1))


def test_call_scores_prefers_consensus_then_calibrated_mean(call, reviewer, reviewer2, member, review):
    first, second, third = submitted_proposal(call), submitted_proposal(call), submitted_proposal(call)
    review(first, reviewer, 4)
    review(second, reviewer, 2)
    review(first, reviewer2, 5)
    review(third, reviewer2, 3)
    # The hand-worked example of test_scoring: calibrated 4.62, 2.38, 2.38.
    assert selectors.call_scores(call=call) == {
        first.pk: Decimal("4.62"),
        second.pk: Decimal("2.38"),
        third.pk: Decimal("2.38"),
    }
    services.consensus_record(proposal=third, user=member, score=Decimal("2.5"), rationale="", feedback="Sound.")
    assert selectors.call_scores(call=call)[third.pk] == Decimal("2.50")


def test_call_scores_none_without_reviews(call, proposal):
    assert selectors.call_scores(call=call) == {proposal.pk: None}


def test_consensus_far_from_calibrated_mean_needs_rationale(call, proposal, reviewer, member, review):
    review(proposal, reviewer, 4)
    with pytest.raises(ValidationError) as exc:
        services.consensus_record(proposal=proposal, user=member, score=Decimal("3"), rationale="", feedback="Ok")
    assert list(exc.value.message_dict) == ["rationale"]
    consensus = services.consensus_record(
        proposal=proposal, user=member, score=Decimal("3"), rationale="Compute overstated", feedback="Ok"
    )
    assert (consensus.score, consensus.calibrated_mean) == (Decimal("3"), Decimal("4.00"))


def test_response_only_once_and_within_window(call, proposal, reviewer, reviewer2, review):
    applicant = proposal.organisation.memberships.get().user
    review(proposal, reviewer, 4)
    with pytest.raises(ValidationError):  # only one of the two minimum reviews is in
        services.response_submit(proposal=proposal, user=applicant, text="Thanks")
    review(proposal, reviewer2, 3)
    services.response_submit(proposal=proposal, user=applicant, text="We will reduce the hours.")
    with pytest.raises(ValidationError) as exc:
        services.response_submit(proposal=proposal, user=applicant, text="Again")
    assert exc.value.messages == ["You have already sent your response."]


def test_response_after_window_is_refused(call, proposal, reviewer, reviewer2, review):
    applicant = proposal.organisation.memberships.get().user
    review(proposal, reviewer, 4)
    review(proposal, reviewer2, 3)
    later = timezone.now() + timedelta(days=15)
    with pytest.raises(ValidationError) as exc:
        services.response_submit(proposal=proposal, user=applicant, text="Late", now=later)
    assert exc.value.messages == ["The response window has closed."]


def test_reminders_before_and_after_deadline_are_sent_once(call, proposal, reviewer, assign):
    deadline = timezone.now() + timedelta(days=2)
    CallReviewSettingsFactory(call=call, review_deadline=deadline, reminder_days_before=3, reminder_days_after=1)
    assign(proposal, reviewer)
    assert services.review_reminders_send() == 1
    assert services.review_reminders_send() == 0
    assert services.review_reminders_send(now=deadline + timedelta(hours=12)) == 0
    assert services.review_reminders_send(now=deadline + timedelta(days=1)) == 1
    assert services.review_reminders_send(now=deadline + timedelta(days=2)) == 0
    assert sorted(ReminderSent.objects.values_list("key", flat=True)) == [
        f"review-reminder-after:{Assignment.objects.get().pk}",
        f"review-reminder-before:{Assignment.objects.get().pk}",
    ]


def test_no_reminder_for_submitted_review(call, proposal, reviewer, review):
    CallReviewSettingsFactory(call=call, review_deadline=timezone.now() + timedelta(days=1))
    review(proposal, reviewer, 4)
    assert services.review_reminders_send() == 0


def test_beat_schedule_has_the_daily_reminder_task():
    entry = settings.CELERY_BEAT_SCHEDULE["reviews-send-reminders"]
    assert entry["task"] == "portal.reviews.tasks.send_review_reminders"


def test_assignment_auto_assigns_every_proposal_without_conflicts(
    call, secretariat, django_capture_on_commit_callbacks
):
    nlp, vision = ExpertiseTagFactory(name="NLP"), ExpertiseTagFactory(name="Vision")
    lab = OrganisationFactory(name="HKUST")
    proposals = [submitted_proposal(call, organisation=lab if i == 0 else None) for i in range(3)]
    for p in proposals:
        ProposalExpertiseFactory(proposal=p, tag=nlp)
    reviewers = [ReviewerProfileFactory(expertise=[nlp]).user for _ in range(3)]
    reviewers.append(ReviewerProfileFactory(expertise=[vision]).user)
    conflicted = ReviewerProfileFactory(expertise=[nlp], organisation=lab).user
    ReviewerProfileFactory(available=False, expertise=[nlp])

    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.assignment_auto(call=call, actor=secretariat)

    pairs = set(Assignment.objects.values_list("proposal_id", "reviewer_id"))
    assert len(pairs) == 9
    assert (proposals[0].pk, conflicted.pk) not in pairs
    assert all(source == AssignmentSource.AUTOMATIC for source in Assignment.objects.values_list("source", flat=True))
    assert outcome.result.unassigned == {}
    assert len([m for m in mail.outbox if m.subject.startswith("Please review")]) == 9
    # Run again: nothing is left to assign.
    assert services.assignment_auto(call=call, actor=secretariat).created == []


def test_assignment_auto_reports_proposals_it_cannot_fill(call, secretariat):
    proposal = submitted_proposal(call)
    ReviewerProfileFactory()
    outcome = services.assignment_auto(call=call, actor=secretariat)
    assert len(outcome.created) == 1
    assert outcome.result.unassigned[str(proposal.pk)][0] == 2
    assert Assignment.objects.get().status == AssignmentStatus.PENDING


def test_assignment_problem_asks_for_the_minimum_less_the_active_reviewers(call, reviewer, reviewer2, assign):
    third = ReviewerProfileFactory().user
    untouched, one, conflicted, two = (submitted_proposal(call) for _ in range(4))
    assign(one, reviewer)
    services.assignment_declare(
        assignment=assign(conflicted, reviewer, declare=False), user=reviewer, conflicted=True, reason="Co-author"
    )
    assign(two, reviewer2)
    assign(two, third)

    problem = services.assignment_problem(call=call)

    assert (call.reviewers_per_proposal, call.min_reviewers) == (3, 2)
    assert problem.proposals == {str(untouched.pk): 3, str(one.pk): 2, str(conflicted.pk): 3, str(two.pk): 1}
    assert problem.min_reviewers == {str(untouched.pk): 2, str(one.pk): 1, str(conflicted.pk): 2}


# ---- The reviewer's profile ---------------------------------------------------------------------------------


def test_reviewer_profile_save_creates_the_profile_and_audits_it(db):
    user = UserFactory(role=Role.REVIEWER)
    organisation = OrganisationFactory()
    tags = [ExpertiseTagFactory(), ExpertiseTagFactory()]

    profile = services.reviewer_profile_save(
        user=user, organisation=organisation, expertise=tags, max_per_call=4, available=False
    )

    profile.refresh_from_db()
    # The organisation is asked for: it waits for the secretariat (and counts in conflicts meanwhile).
    assert (
        profile.user,
        profile.organisation,
        profile.organisation_requested,
        profile.organisation_change_pending,
        profile.max_per_call,
        profile.available,
    ) == (user, None, organisation, True, 4, False)
    assert set(profile.expertise.all()) == set(tags)
    audit = AuditEvent.objects.latest("seq")
    assert (audit.action, audit.actor_id, audit.object_id, audit.before) == (
        "reviewer_profile.save",
        user.pk,
        str(profile.pk),
        {},
    )
    assert audit.after == {
        "organisation": None,
        "organisation_requested": organisation.pk,
        "organisation_change_pending": True,
        "expertise": sorted(t.pk for t in tags),
        "max_per_call": 4,
        "available": False,
    }


def test_reviewer_profile_save_updates_and_records_what_it_was(reviewer):
    old = reviewer.reviewer_profile
    before = {
        "organisation": old.organisation_id,
        "organisation_requested": None,
        "organisation_change_pending": False,
        "expertise": sorted(old.expertise.values_list("pk", flat=True)),
        "max_per_call": old.max_per_call,
        "available": old.available,
    }

    profile = services.reviewer_profile_save(
        user=reviewer, organisation=None, expertise=[], max_per_call=2, available=True
    )

    assert profile.pk == old.pk
    assert (profile.organisation, list(profile.expertise.all()), profile.max_per_call) == (old.organisation, [], 2)
    assert AuditEvent.objects.latest("seq").before == before


def test_reviewer_profile_save_checks_the_limit(reviewer):
    with pytest.raises(ValidationError) as excinfo:
        services.reviewer_profile_save(user=reviewer, organisation=None, expertise=[], max_per_call=101, available=True)

    assert excinfo.value.message_dict == {"max_per_call": ["Ensure this value is less than or equal to 100."]}
    assert reviewer.reviewer_profile.max_per_call != 101


def test_reviewer_profile_save_refused_to_other_roles(secretariat):
    with pytest.raises(PermissionDenied):
        services.reviewer_profile_save(
            user=secretariat, organisation=None, expertise=[], max_per_call=2, available=True
        )
    assert not hasattr(secretariat, "reviewer_profile")
