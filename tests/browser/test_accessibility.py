"""WCAG 2.1 AA, checked by axe-core in Chromium: the main pages of every role, in English and Chinese, with no
violation. axe-core is the npm package pinned in package.json (``npm ci`` at the repository root; ``.ci/run`` and
``make test`` run it when node_modules is missing)."""

import os
from pathlib import Path

import pytest
from django.conf import settings

from portal.accounts.enums import Role
from portal.proposals import services as proposal_services
from portal.reviews import services as review_services
from tests.factories import MembershipFactory, UserFactory, open_call
from tests.factories.proposals import complete_draft
from tests.factories.reviews import ReviewerFactory, submitted_proposal

from .helpers import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture
def site(db):
    """One call with a submitted proposal under review, a draft, and a person of every role."""
    call = open_call(title="AISS 2026 first call", title_zh="人工智能資助計劃 2026 年第一輪")
    secretariat = UserFactory(role=Role.SECRETARIAT, full_name="Ms Chan Siu Ling")
    proposal = submitted_proposal(call)
    applicant = proposal.created_by
    draft = proposal_services.proposal_create(call=call, organisation=proposal.organisation, user=applicant)
    proposal_services.proposal_save_draft(
        proposal=draft, raw=complete_draft(call, title="Typhoon track forecasting"), user=applicant
    )
    reviewer = ReviewerFactory(full_name="Dr Wong Ka Yan")
    reviewing = review_services.assignment_create(proposal=proposal, reviewer=reviewer, actor=secretariat)
    review_services.assignment_declare(assignment=reviewing, user=reviewer, conflicted=False)
    to_declare = review_services.assignment_create(
        proposal=proposal, reviewer=ReviewerFactory(full_name="Prof Lee Man"), actor=secretariat
    )
    return {
        "call": call,
        "proposal": proposal,
        "draft": draft,
        "reviewing": reviewing,
        "to_declare": to_declare,
        "anonymous": None,
        "applicant": applicant,
        "reviewer": reviewer,
        "second_reviewer": to_declare.reviewer,
        "secretariat": secretariat,
        "member": UserFactory(role=Role.COMMITTEE_MEMBER, full_name="Prof Ho Ka Ming"),
        "chair": UserFactory(role=Role.COMMITTEE_CHAIR, full_name="Dr Cheung Wing Sze"),
        "auditor": UserFactory(role=Role.AUDITOR, full_name="Mr Yip Chun Kit"),
        "newcomer": MembershipFactory().user,
    }


# (who, address) with the site's objects filled in.
PAGES = {
    "home": ("anonymous", "/"),
    "calls": ("anonymous", "/calls/"),
    "call": ("anonymous", "/calls/{call.reference}/"),
    "login": ("anonymous", "/accounts/login/"),
    "signup": ("anonymous", "/accounts/signup/"),
    "password-reset": ("anonymous", "/accounts/password/reset/"),
    "applicant-dashboard": ("applicant", "/proposals/"),
    "proposal-edit": ("applicant", "/proposals/{draft.pk}/edit/"),
    "proposal-detail": ("applicant", "/proposals/{proposal.pk}/"),
    "receipt": ("applicant", "/proposals/{proposal.pk}/versions/1/receipt/"),
    "organisation": ("applicant", "/accounts/organisation/"),
    "profile": ("applicant", "/accounts/profile/"),
    "my-data": ("applicant", "/accounts/my-data/"),
    "notifications": ("applicant", "/notifications/"),
    "reviewer-assignments": ("reviewer", "/reviews/"),
    "reviewer-declare": ("second_reviewer", "/reviews/assignments/{to_declare.pk}/"),
    "review-form": ("reviewer", "/reviews/assignments/{reviewing.pk}/review/"),
    "reviewer-profile": ("reviewer", "/reviews/profile/"),
    "secretariat-queue": ("secretariat", "/decisions/"),
    "secretariat-screen": ("secretariat", "/decisions/{proposal.pk}/screen/"),
    "secretariat-review-calls": ("secretariat", "/reviews/calls/"),
    "secretariat-assignments": ("secretariat", "/reviews/calls/{call.pk}/assignments/"),
    "secretariat-allocations": ("secretariat", "/allocations/"),
    "secretariat-call-allocation": ("secretariat", "/allocations/calls/{call.pk}/"),
    "secretariat-reports": ("secretariat", "/reports/"),
    "auditor-log": ("auditor", "/audit/"),
    "committee-proposal": ("member", "/reviews/proposals/{proposal.pk}/"),
    "committee-ranking": ("member", "/reviews/calls/{call.pk}/ranking/"),
    "chair-queue": ("chair", "/decisions/"),
    "chair-allocations": ("chair", "/allocations/"),
    "secretariat-work": ("secretariat", "/decisions/work/"),
    "secretariat-calls-manage": ("secretariat", "/calls/manage/"),
    "secretariat-call-create": ("secretariat", "/calls/manage/new/"),
    "secretariat-call-edit": ("secretariat", "/calls/manage/{call.reference}/"),
    "secretariat-review-round": ("secretariat", "/reviews/calls/{call.pk}/round/"),
    "chair-work": ("chair", "/decisions/work/"),
    "secretariat-change-requests": ("secretariat", "/projects/changes/?state=all"),
    "auditor-finance": ("auditor", "/projects/finance/"),
}

# WCAG 1.4.10 (reflow): at 320 CSS pixels wide nothing makes the page scroll sideways; a wide table scrolls inside
# its own box (``.table-responsive``).
NARROW = 320
OVERFLOWING = """width => [...document.querySelectorAll('body *')].filter(el => {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 1) return false;
    for (let up = el.parentElement; up; up = up.parentElement) {
        const style = getComputedStyle(up);
        if (['auto', 'scroll', 'hidden', 'clip'].includes(style.overflowX)) return false;
    }
    return true;
}).slice(0, 5).map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '.' + [...el.classList].join('.')
    + ' (right edge ' + Math.round(el.getBoundingClientRect().right) + ' px)')"""


def axe_available() -> None:
    if AXE.exists():
        return
    reason = f"needs axe-core at {AXE}: run `npm ci` at the repository root"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        for node in v["nodes"]:
            why = "; ".join(check["message"] for check in node["any"] + node["all"] + node["none"])
            lines.append(f"{v['id']} ({v['impact']}) at {' '.join(node['target'])}: {node['html'][:160]}: {why}")
    return "\n".join(lines)


@pytest.mark.parametrize("language", ["en", "zh-hant"])
@pytest.mark.parametrize("name", list(PAGES))
def test_page_has_no_wcag_aa_violation(page, live_server, site, name, language):
    axe_available()
    who, address = PAGES[name]
    user = site[who]
    if user is None:
        page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}])
    else:
        login(page, live_server, user, language=language)
    response = page.goto(address.format(**site))
    assert response.status == 200, f"{address.format(**site)} answered {response.status}"
    assert page.locator("html").get_attribute("lang") == {"en": "en-HK", "zh-hant": "zh-Hant-HK"}[language]
    # Served from the portal's own origin, so the Content-Security-Policy (scripts from 'self' only) lets it run.
    page.route("**/__axe-core.js", lambda route: route.fulfill(path=AXE, content_type="text/javascript"))
    page.add_script_tag(url="/__axe-core.js")
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA)
    if result["violations"]:
        page.shot("violations")
    assert result["violations"] == [], describe(result["violations"])
    assert result["passes"], "axe ran no check at all"

    page.set_viewport_size({"width": NARROW, "height": 800})
    page.wait_for_function("width => document.documentElement.clientWidth <= width", arg=NARROW)
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > NARROW:
        page.shot("reflow")
    assert width <= NARROW, f"the page is {width} px wide at {NARROW} px: " + "; ".join(
        page.evaluate(OVERFLOWING, NARROW)
    )
