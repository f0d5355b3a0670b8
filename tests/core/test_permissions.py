import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.test import RequestFactory
from django.views import View

from portal.accounts.enums import Role
from portal.accounts.models import Organisation
from portal.core.permissions import PermissionRequiredMixin
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


class Page(PermissionRequiredMixin, View):
    permission_required = "portal.reviews.assign_reviewers"

    def get(self, request, **kwargs):
        return HttpResponse("page")

    def post(self, request, **kwargs):
        return HttpResponse("done")


class OrganisationPage(Page):
    """An object permission, on an organisation loaded from those the user belongs to (a guessed id: 404)."""

    permission_required = "portal.accounts.view_organisation"

    def get_permission_object(self):
        self.organisation = get_object_or_404(
            Organisation.objects.filter(memberships__user=self.request.user), pk=self.kwargs["pk"]
        )
        return self.organisation


def call(view_class, user, method="get", **kwargs):
    request = getattr(RequestFactory(), method)("/page/")
    request.user = user
    return view_class.as_view()(request, **kwargs)


def test_anonymous_user_is_sent_to_log_in_before_anything_is_loaded():
    response = call(OrganisationPage, AnonymousUser(), pk=999_999)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/page/"


def test_user_without_the_permission_is_refused_403():
    with pytest.raises(PermissionDenied):
        call(Page, UserFactory(role=Role.APPLICANT))


def test_user_with_the_permission_sees_the_page():
    response = call(Page, UserFactory(role=Role.SECRETARIAT))

    assert response.content == b"page"


def test_object_outside_what_the_user_may_see_is_404_before_the_permission():
    other = OrganisationFactory()

    with pytest.raises(Http404):
        call(OrganisationPage, UserFactory(role=Role.APPLICANT), pk=other.pk)


def test_object_permission_checked_against_the_loaded_object():
    membership = MembershipFactory(user=UserFactory(role=Role.APPLICANT))

    response = call(OrganisationPage, membership.user, pk=membership.organisation.pk)

    assert response.content == b"page"


def test_any_permission_needs_one_of_them():
    class EitherPage(Page):
        permission_required = ("portal.reviews.assign_reviewers", "portal.reviews.view_own_assignments")
        any_permission = True

    assert call(EitherPage, UserFactory(role=Role.REVIEWER)).content == b"page"
    with pytest.raises(PermissionDenied):
        call(EitherPage, UserFactory(role=Role.APPLICANT))


def test_method_permission_applies_to_that_method_only():
    class ActionPage(Page):
        permission_required = "portal.reviews.view_ranking"
        method_permissions = {"post": "portal.reviews.assign_reviewers"}

    auditor = UserFactory(role=Role.AUDITOR)

    assert call(ActionPage, auditor).content == b"page"
    with pytest.raises(PermissionDenied, match=r"reviews\.assign_reviewers"):
        call(ActionPage, auditor, method="post")
    assert call(ActionPage, UserFactory(role=Role.SECRETARIAT), method="post").content == b"done"


def test_view_answers_a_refusal_its_own_way():
    class HiddenPage(Page):
        def permission_denied(self, permission):
            return HttpResponse(f"not for you: {permission}", status=409)

    response = call(HiddenPage, UserFactory(role=Role.APPLICANT))

    assert (response.status_code, response.content) == (409, b"not for you: portal.reviews.assign_reviewers")


def test_prepare_runs_after_the_permission_and_may_answer_instead():
    class MovedOnPage(Page):
        def prepare(self):
            return HttpResponse("moved on", status=303)

    with pytest.raises(PermissionDenied):
        call(MovedOnPage, UserFactory(role=Role.APPLICANT))
    assert call(MovedOnPage, UserFactory(role=Role.SECRETARIAT)).content == b"moved on"


def test_view_without_a_permission_is_a_configuration_error():
    class Unnamed(PermissionRequiredMixin, View):
        pass

    with pytest.raises(ImproperlyConfigured, match="Unnamed names no permission_required"):
        call(Unnamed, UserFactory())


def test_permission_the_request_names_is_refused_like_the_others():
    class FormPage(Page):
        permission_required = "portal.reviews.view_ranking"

        def post(self, request, **kwargs):
            refused = self.refuse_unless(request.POST["needs"])
            return refused or HttpResponse("done")

        def permission_denied(self, permission):
            return HttpResponse(f"refused: {permission}", status=404)

    auditor = UserFactory(role=Role.AUDITOR)
    request = RequestFactory().post("/page/", {"needs": "portal.reviews.assign_reviewers"})
    request.user = auditor
    refused = FormPage.as_view()(request)
    request = RequestFactory().post("/page/", {"needs": "portal.reviews.view_ranking"})
    request.user = auditor
    allowed = FormPage.as_view()(request)

    assert (refused.status_code, refused.content) == (404, b"refused: portal.reviews.assign_reviewers")
    assert allowed.content == b"done"
