"""Issue 12 point 3: the assignment explains each pair (expertise, load) and each proposal left short (conflict,
capacity), in the reader's language."""

from django.urls import reverse
from django.utils import translation

from portal.reviews.enums import ConflictSource
from portal.reviews.explain import pair_reason, shortfall_reasons
from portal.reviews.models import Assignment, Declaration
from tests.factories.reviews import ExpertiseTagFactory, ProposalExpertiseFactory, ReviewerProfileFactory


def _call_of_three(call, proposal, secretariat):
    """One proposal on NLP and speech wanting three reviewers: one expert in NLP, one with a conflict, one full."""
    call.reviewers_per_proposal = 3
    call.min_reviewers = 2
    call.save()
    nlp = ExpertiseTagFactory(name="Natural language processing", name_zh="自然語言處理")
    speech = ExpertiseTagFactory(name="Speech", name_zh="語音")
    ProposalExpertiseFactory(proposal=proposal, tag=nlp)
    ProposalExpertiseFactory(proposal=proposal, tag=speech)
    expert = ReviewerProfileFactory(user__full_name="Dr Expert", expertise=[nlp], max_per_call=4).user
    conflicted = ReviewerProfileFactory(user__full_name="Dr Conflicted", expertise=[nlp, speech]).user
    Declaration.objects.create(
        proposal=proposal,
        user=conflicted,
        conflicted=True,
        reason="Co-author of the applicant",
        source=ConflictSource.RECORDED,
        recorded_by=secretariat,
    )
    full = ReviewerProfileFactory(user__full_name="Dr Full", max_per_call=0).user
    return expert, conflicted, full


def test_each_pair_and_each_shortfall_is_explained_on_the_page(client, call, proposal, secretariat):
    expert, conflicted, _full = _call_of_three(call, proposal, secretariat)
    client.force_login(secretariat)

    page = client.post(reverse("reviews:auto_assign", args=[call.pk]), follow=True).content.decode()

    assignment = Assignment.objects.get(proposal=proposal)
    assert assignment.reviewer == expert
    assert assignment.explanation == {
        "affinity": 0.5,
        "tags": [assignment.explanation["tags"][0]],
        "load": 1,
        "limit": 4,
    }
    assert "Why: expertise match 50% (Natural language processing) · reviewer&#x27;s load after it: 1 of 4" in page
    assert "2 reviewers missing" in page
    assert "1 short of the minimum number of reviewers" in page
    assert "conflict of interest: 1 reviewer has a conflict with it" in page
    assert "only 2 available reviewers without a conflict" in page
    assert "capacity: 1 reviewer without a conflict is at their limit" in page
    assert not Assignment.objects.filter(reviewer=conflicted).exists()


def test_a_manual_pair_is_explained_too(client, call, proposal, secretariat):
    expert, _conflicted, _full = _call_of_three(call, proposal, secretariat)
    client.force_login(secretariat)
    client.post(reverse("reviews:assign", args=[call.pk]), {"proposal": proposal.pk, "reviewer": expert.pk})
    assert Assignment.objects.get(proposal=proposal, reviewer=expert).explanation["load"] == 1
    page = client.get(reverse("reviews:call_assignments", args=[call.pk])).content.decode()
    assert "Why: expertise match 50% (Natural language processing)" in page


def test_the_reasons_are_worded_in_chinese():
    shortfall = {
        "missing": 2,
        "need": 3,
        "free": 2,
        "conflicted": 1,
        "full": 2,
        "suggested": 0,
        "suggested_limit": 1,
        "below_minimum": 1,
    }
    explanation = {"affinity": 0.5, "tags": [7], "load": 1, "limit": 4}
    with translation.override("zh-hant"):
        reasons = shortfall_reasons(shortfall)
        why = pair_reason(explanation, {7: "自然語言處理"})
    assert reasons == [
        "距最少評審人數尚欠 1 名",
        "利益衝突：1 名評審員與此申請有利益衝突",
        "沒有利益衝突而可分派的評審員只有 2 名",
        "評審量：2 名沒有利益衝突的評審員已達上限",
    ]
    assert why == "專業配對度 50%（自然語言處理） · 分派後評審員在本徵集的工作量：1（上限 4）"
