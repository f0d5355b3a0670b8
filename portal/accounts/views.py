"""Thin views: bind the form, call a service, redirect with a message."""

import json
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import DetailView, FormView, ListView, TemplateView

from portal.core.downloads import download_response
from portal.core.forms import form_add_service_errors
from portal.core.i18n import localised
from portal.core.permissions import PermissionRequiredMixin

from .forms import (
    ErasureRequestForm,
    InvitationForm,
    LoginForm,
    OrganisationForm,
    PeopleSearchForm,
    ProfileForm,
    QueuedPasswordResetForm,
    SecondFactorCodeForm,
    SecondFactorResetForm,
    SignupForm,
    VerificationResendForm,
)
from .models import ErasureRequest, JoinRequest, Membership, Organisation, User
from .security import (
    HAS_FACTOR_KEY,
    SecondFactorThrottled,
    cool_off_minutes,
    lockout_clear,
    lockouts_current,
    people_with_second_factor,
    recovery_codes_left,
    recovery_codes_renew,
    second_factor_check,
    second_factor_disable,
    second_factor_enabled,
    second_factor_enrol,
    second_factor_login,
    second_factor_required,
    second_factor_reset,
    session_needs_second_factor,
    totp_device_pending,
    totp_qr_svg,
    totp_secret,
)
from .selectors import (
    MY_DATA_PAGE_ROWS,
    erasure_requests_for_secretariat,
    invitation_get_by_token,
    invitations_open_for_email,
    join_requests_of,
    organisations_for_user,
    organisations_search,
    organisations_visible_to,
    user_personal_data,
)
from .services import (
    VerificationLinkError,
    erasure_request_create,
    erasure_request_decide,
    invitation_accept,
    invitation_send,
    join_request_create,
    join_request_decide,
    organisation_create,
    password_change_record,
    user_profile_save,
    user_signup,
    user_verification_resend,
    user_verify_email,
)


def _safe_next(request, url: str) -> str:
    """``url`` if it is a link within this site, else ``""``."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return ""


# ---- Sign up and email verification -----------------------------------------------------------------------


class SignupView(FormView):
    template_name = "accounts/signup.html"
    form_class = SignupForm

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            return redirect("core:home")
        return super().dispatch(request, *args, **kwargs)

    def get_next(self) -> str:
        return _safe_next(self.request, self.request.POST.get("next") or self.request.GET.get("next", ""))

    def get_initial(self):
        language = getattr(self.request, "LANGUAGE_CODE", "en")
        return {"preferred_language": language if language in ("en", "zh-hant") else "en"}

    def get_context_data(self, **kwargs):
        return super().get_context_data(next=self.get_next(), **kwargs)

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            user_signup(
                email=data["email"],
                full_name=data["full_name"],
                password=data["password1"],
                preferred_language=data["preferred_language"],
                next_url=self.get_next(),
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        # The same page whether or not the address already had an account (the service then emails its owner).
        self.request.session["signup_email"] = data["email"]
        return redirect("accounts:signup_done")


class SignupDoneView(TemplateView):
    template_name = "accounts/signup_done.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(email=self.request.session.get("signup_email", ""), **kwargs)


class VerifyView(View):
    def get(self, request, token: str):
        try:
            verification = user_verify_email(token=token)
        except VerificationLinkError as exc:
            return render(
                request,
                "accounts/verify_failed.html",
                {"expired": exc.expired, "form": VerificationResendForm()},
            )
        user = verification.user
        if not verification.newly_verified:
            if request.user.is_authenticated and request.user.pk == user.pk:
                return redirect("core:home")
            messages.info(request, _("Your email address is already verified. Please log in."))
            return redirect("accounts:login")
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        translation.activate(user.preferred_language)
        messages.success(request, _("Thank you: your email address is verified."))
        next_url = _safe_next(request, verification.next_url)
        if next_url:
            return _apply_language(redirect(next_url), user)
        if not Membership.objects.filter(user=user).exists():
            return _apply_language(redirect("accounts:organisation"), user)
        return _apply_language(redirect("core:home"), user)


class VerificationResendView(FormView):
    template_name = "accounts/verify_resend.html"
    form_class = VerificationResendForm

    def form_valid(self, form):
        user_verification_resend(email=form.cleaned_data["email"])
        messages.info(
            self.request,
            _("If an account with that address is waiting for verification, we have sent it a new link."),
        )
        return redirect("accounts:login")


# ---- Log in, log out, password reset --------------------------------------------------------------------------


def _apply_language(response, user):
    """The user's preferred language, for this response and from now on (the language cookie)."""
    translation.activate(user.preferred_language)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        user.preferred_language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


class LoginView(auth_views.LoginView):
    """Log in; the interface switches to the user's preferred language."""

    template_name = "accounts/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        if session_needs_second_factor(self.request):
            name = "accounts:second_factor_verify"
            if not second_factor_enabled(self.request.user):
                name = "accounts:second_factor_setup"
            response = redirect(f"{reverse(name)}?{urlencode({'next': self.get_success_url()})}")
        return _apply_language(response, form.get_user())


class ProfileView(LoginRequiredMixin, FormView):
    """A person's own name and preferred language."""

    template_name = "accounts/profile.html"
    form_class = ProfileForm

    def get_initial(self):
        user = self.request.user
        return {"full_name": user.full_name, "preferred_language": user.preferred_language}

    def get_context_data(self, **kwargs):
        kwargs.setdefault("can_manage_erasure", self.request.user.has_perm("portal.accounts.manage_erasure"))
        return super().get_context_data(**kwargs)

    def form_valid(self, form):
        try:
            user = user_profile_save(
                user=self.request.user,
                full_name=form.cleaned_data["full_name"],
                preferred_language=form.cleaned_data["preferred_language"],
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        response = _apply_language(redirect("accounts:profile"), user)
        messages.success(self.request, _("Your profile is saved."))
        return response


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    form_class = QueuedPasswordResetForm
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


def locked_out(request, original_response=None, credentials=None):
    """What a locked-out log-in gets (django-axes): a page that says why and for how long, status 429."""
    return render(
        request,
        "accounts/locked_out.html",
        {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": cool_off_minutes(request)},
        status=429,
    )


class PasswordChangeView(LoginRequiredMixin, auth_views.PasswordChangeView):
    """Change one's own password (the current one first). The session stays signed in, the owner is emailed."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:profile")

    def form_valid(self, form):
        response = super().form_valid(form)
        password_change_record(user=self.request.user)
        messages.success(self.request, _("Your password is changed."))
        return response


# ---- Two-step sign-in (second factor) --------------------------------------------------------------------------


def _next_or_home(request) -> str:
    return _safe_next(request, request.POST.get("next") or request.GET.get("next", "")) or reverse("core:home")


class SecondFactorView(LoginRequiredMixin, TemplateView):
    """Whether two-step sign-in is on, how many recovery codes are left, and what the person may do about it."""

    template_name = "accounts/second_factor.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            enabled=second_factor_enabled(user),
            required=second_factor_required(user),
            codes_left=recovery_codes_left(user),
            **kwargs,
        )


class SecondFactorSetupView(LoginRequiredMixin, FormView):
    """Set up an authenticator app: scan the QR code (or type the secret), confirm with a code it shows; the
    recovery codes are then shown once. A person who already has one must pass it before replacing it."""

    template_name = "accounts/second_factor_setup.html"
    form_class = SecondFactorCodeForm

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not request.user.is_verified() and second_factor_enabled(request.user):
            return redirect(
                f"{reverse('accounts:second_factor_verify')}?{urlencode({'next': request.get_full_path()})}"
            )
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        device = totp_device_pending(user=self.request.user)
        return super().get_context_data(
            qr_svg=mark_safe(totp_qr_svg(device)),  # noqa: S308 - generated by qrcode from our own data
            secret=totp_secret(device),
            required=second_factor_required(self.request.user),
            next=_safe_next(self.request, self.request.POST.get("next") or self.request.GET.get("next", "")),
            **kwargs,
        )

    def form_valid(self, form):
        device = totp_device_pending(user=self.request.user)
        try:
            codes = second_factor_enrol(user=self.request.user, device=device, code=form.cleaned_data["code"])
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        device.refresh_from_db()
        update_session_auth_hash(self.request, self.request.user)  # the person's other sessions have ended
        second_factor_login(request=self.request, device=device)
        self.request.session[HAS_FACTOR_KEY] = True
        return render(
            self.request,
            "accounts/recovery_codes.html",
            {"codes": codes, "next": _next_or_home(self.request), "enrolled": True},
        )


class SecondFactorVerifyView(LoginRequiredMixin, FormView):
    """The second step of signing in: the code from the app, or a recovery code."""

    template_name = "accounts/second_factor_verify.html"
    form_class = SecondFactorCodeForm

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            if not session_needs_second_factor(request):
                return redirect(_next_or_home(request))
            if not second_factor_enabled(request.user):
                if second_factor_required(request.user):
                    return redirect(
                        f"{reverse('accounts:second_factor_setup')}?{urlencode({'next': _next_or_home(request)})}"
                    )
                request.session[HAS_FACTOR_KEY] = False  # turned off or reset since log-in
                return redirect(_next_or_home(request))
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "recovery_allowed": True}

    def get_context_data(self, **kwargs):
        return super().get_context_data(next=_next_or_home(self.request), **kwargs)

    def form_valid(self, form):
        try:
            match = second_factor_check(user=self.request.user, code=form.cleaned_data["code"])
        except SecondFactorThrottled:
            form.add_error(
                "code", _("Too many wrong codes in a row. Wait a minute, then type the code your app shows.")
            )
            return self.form_invalid(form)
        if match is None:
            form.add_error("code", _("That code is not right. Type the code your app shows now, or a recovery code."))
            return self.form_invalid(form)
        second_factor_login(request=self.request, device=match.device)
        if match.recovery_code:
            left = recovery_codes_left(self.request.user)
            messages.warning(
                self.request,
                _("You used a recovery code; %(count)d left. Make new ones on your two-step sign-in page.")
                % {"count": left},
            )
        return redirect(_next_or_home(self.request))


class RecoveryCodesRenewView(LoginRequiredMixin, View):
    def post(self, request):
        try:
            codes = recovery_codes_renew(user=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("accounts:second_factor")
        return render(
            request, "accounts/recovery_codes.html", {"codes": codes, "next": reverse("accounts:second_factor")}
        )


class SecondFactorDisableView(LoginRequiredMixin, View):
    def post(self, request):
        if second_factor_required(request.user):
            raise PermissionDenied
        second_factor_disable(user=request.user)
        request.session[HAS_FACTOR_KEY] = False
        messages.info(request, _("Two-step sign-in is off. You log in with your password alone."))
        return redirect("accounts:second_factor")


# ---- Sign-in security for the secretariat ----------------------------------------------------------------------


class SignInSecurityView(PermissionRequiredMixin, TemplateView):
    """Accounts and addresses locked out now (unlock), and people found by email or name with their second factor
    (reset it for a lost phone)."""

    template_name = "accounts/sign_in_security.html"
    permission_required = "portal.accounts.manage_sign_in"

    def get_context_data(self, **kwargs):
        form = PeopleSearchForm(self.request.GET or None)
        query = form.cleaned_data["q"].strip() if form.is_valid() else ""
        return super().get_context_data(
            form=form,
            query=query,
            people=people_with_second_factor(query=query) if query else [],
            lockouts=lockouts_current(),
            reset_form=SecondFactorResetForm(),
            **kwargs,
        )


class SecondFactorResetView(PermissionRequiredMixin, FormView):
    template_name = "accounts/second_factor_reset.html"
    form_class = SecondFactorResetForm
    permission_required = "portal.accounts.manage_sign_in"

    def get_permission_object(self):
        self.person = get_object_or_404(User, pk=self.kwargs["pk"])
        return None

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            person=self.person,
            enabled=second_factor_enabled(self.person),
            codes_left=recovery_codes_left(self.person),
            **kwargs,
        )

    def form_valid(self, form):
        try:
            second_factor_reset(user=self.person, actor=self.request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(
            self.request,
            _("The second factor of %(person)s is reset: they set up a new one at their next log-in.")
            % {"person": self.person.email},
        )
        return redirect(f"{reverse('accounts:sign_in_security')}?{urlencode({'q': self.person.email})}")


class LockoutClearView(PermissionRequiredMixin, View):
    permission_required = "portal.accounts.manage_sign_in"

    def post(self, request):
        kind, value = request.POST.get("kind", ""), request.POST.get("value", "")[:255]
        try:
            lockout_clear(actor=request.user, kind=kind, value=value)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("%(value)s is unlocked.") % {"value": value})
        return redirect("accounts:sign_in_security")


# ---- Organisations and invitations ----------------------------------------------------------------------------


class OrganisationView(LoginRequiredMixin, TemplateView):
    """The user's organisations with members and open invitations; with none, the two ways to get one."""

    template_name = "accounts/organisation.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        query = self.request.GET.get("q", "").strip()[:100]
        organisations = list(organisations_for_user(user=user))
        mine = {o.pk for o in organisations}
        requests = list(join_requests_of(user=user))
        asked = {r.organisation_id for r in requests if r.decided_at is None}
        return super().get_context_data(
            organisations=organisations,
            invitations_for_me=invitations_open_for_email(email=user.email),
            can_create=user.has_perm("portal.accounts.create_organisation"),
            can_ask=user.has_perm("portal.accounts.ask_to_join_organisation"),
            invitation_form=InvitationForm(),
            query=query,
            results=[
                {"organisation": o, "member": o.pk in mine, "asked": o.pk in asked}
                for o in organisations_search(query=query)
            ],
            join_requests=[r for r in requests if r.decided_at is None],
            **kwargs,
        )


class OrganisationDetailView(LoginRequiredMixin, DetailView):
    template_name = "accounts/organisation_detail.html"
    context_object_name = "organisation"

    def get_queryset(self):
        return organisations_visible_to(user=self.request.user)

    def get_context_data(self, **kwargs):
        return super().get_context_data(invitation_form=InvitationForm(), **kwargs)


class OrganisationCreateView(PermissionRequiredMixin, FormView):
    template_name = "accounts/organisation_create.html"
    form_class = OrganisationForm
    permission_required = "portal.accounts.create_organisation"

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            organisation = organisation_create(
                creator=self.request.user,
                name=data["name"],
                name_zh=data["name_zh"],
                org_type=data["org_type"],
                br_number=data["br_number"],
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("%(name)s is registered. You are its administrator.") % {"name": organisation})
        return redirect("accounts:organisation")


class InvitationSendView(PermissionRequiredMixin, FormView):
    template_name = "accounts/invite.html"
    form_class = InvitationForm
    permission_required = "portal.accounts.invite_to_organisation"

    def get_permission_object(self):
        self.organisation = get_object_or_404(organisations_for_user(user=self.request.user), pk=self.kwargs["pk"])
        return self.organisation

    def get_context_data(self, **kwargs):
        return super().get_context_data(organisation=self.organisation, **kwargs)

    def form_valid(self, form):
        try:
            invitation = invitation_send(
                organisation=self.organisation,
                email=form.cleaned_data["email"],
                invited_by=self.request.user,
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("We have emailed an invitation to %(email)s.") % {"email": invitation.email})
        return redirect("accounts:organisation")


class InvitationAcceptView(View):
    """Anyone with the link sees what it is for; accepting needs the invited person to be logged in."""

    template_name = "accounts/invitation_accept.html"

    def get_invitation(self):
        invitation = invitation_get_by_token(token=self.kwargs["token"])
        if invitation is None:
            raise Http404
        return invitation

    def get(self, request, token):
        invitation = self.get_invitation()
        return render(request, self.template_name, self.context(invitation))

    def post(self, request, token):
        invitation = self.get_invitation()
        if not request.user.is_authenticated:
            return auth_views.redirect_to_login(request.path)
        try:
            membership = invitation_accept(invitation=invitation, user=request.user)
        except ValidationError as exc:
            return render(request, self.template_name, self.context(invitation, errors=exc.messages), status=400)
        messages.success(request, _("You have joined %(name)s.") % {"name": membership.organisation})
        return redirect("accounts:organisation")

    def context(self, invitation, errors=None) -> dict:
        user = self.request.user
        problem = ""
        if invitation.accepted_at is not None:
            problem = _("This invitation has already been used.")
        elif invitation.expires_at <= timezone.now():
            problem = _("This invitation has expired. Ask the organisation for a new one.")
        elif user.is_authenticated and user.email.lower() != invitation.email.lower():
            problem = _(
                "This invitation was sent to a different email address. Log in with the invited address to accept it."
            )
        return {
            "invitation": invitation,
            "problem": problem,
            "errors": errors or [],
            "next": self.request.path,
        }


# ---- My data (PDPO access, correction, erasure) -------------------------------------------------------------------


class MyDataView(PermissionRequiredMixin, TemplateView):
    """Everything held about the signed-in person, newest rows of each list (all of it in the download), with the
    way to correct their profile and to ask for erasure."""

    permission_required = "portal.accounts.view_own_data"
    template_name = "accounts/my_data.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        kwargs.setdefault("erasure_form", ErasureRequestForm())
        return super().get_context_data(
            data=user_personal_data(user=user, limit=MY_DATA_PAGE_ROWS),
            page_rows=MY_DATA_PAGE_ROWS,
            erasure_open=ErasureRequest.objects.filter(user=user, status=ErasureRequest.Status.OPEN).first(),
            **kwargs,
        )


class MyDataDownloadView(PermissionRequiredMixin, View):
    permission_required = "portal.accounts.view_own_data"

    def get(self, request):
        data = user_personal_data(user=request.user)
        return download_response(
            json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
            filename="my-data.json",
            content_type="application/json; charset=utf-8",
        )


class ErasureRequestCreateView(PermissionRequiredMixin, View):
    permission_required = "portal.accounts.request_erasure"

    def post(self, request):
        form = ErasureRequestForm(request.POST)
        if not form.is_valid():
            view = MyDataView(request=request, kwargs={})
            return render(request, MyDataView.template_name, view.get_context_data(erasure_form=form), status=400)
        try:
            erasure_request_create(user=request.user, message=form.cleaned_data["message"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request, _("Your request is with the secretariat. We will tell you when it has been dealt with.")
            )
        return redirect("accounts:my_data")


class ErasureRequestListView(PermissionRequiredMixin, ListView):
    """The secretariat's list of erasure requests, open ones first, each with its actions."""

    permission_required = "portal.accounts.manage_erasure"
    template_name = "accounts/erasure_requests.html"
    context_object_name = "erasure_requests"
    paginate_by = 50

    def get_queryset(self):
        return erasure_requests_for_secretariat()


class ErasureRequestDecideView(PermissionRequiredMixin, View):
    permission_required = "portal.accounts.manage_erasure"

    def post(self, request, pk):
        erasure = get_object_or_404(ErasureRequest.objects.select_related("user"), pk=pk)
        decision = request.POST.get("decision")
        if decision not in ("erase", "decline"):
            messages.error(request, _("Choose to erase the personal data or to decline."))
            return redirect("accounts:erasure_requests")
        try:
            erasure_request_decide(
                request=erasure, actor=request.user, erase=decision == "erase", note=request.POST.get("note", "")
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if decision == "erase":
                messages.success(request, _("Request #%(n)s: the personal data is erased.") % {"n": erasure.pk})
            else:
                messages.info(request, _("Request #%(n)s is declined.") % {"n": erasure.pk})
        return redirect("accounts:erasure_requests")


# ---- Finding and joining an organisation --------------------------------------------------------------------------


class OrganisationSearchView(LoginRequiredMixin, View):
    """Registered organisations matching ``q`` (name, Chinese name or BR number), as JSON: the co-applicant
    picker's suggestions. A fixed number of queries, however many organisations there are."""

    def get(self, request):
        results = organisations_search(query=request.GET.get("q", ""))
        return JsonResponse(
            {
                "results": [
                    {"id": o.pk, "name": o.name, "name_zh": o.name_zh, "type": str(o.get_org_type_display())}
                    for o in results
                ]
            }
        )


class JoinRequestCreateView(LoginRequiredMixin, PermissionRequiredMixin, View):
    permission_required = "portal.accounts.ask_to_join_organisation"
    raise_exception = True

    def post(self, request, pk):
        organisation = get_object_or_404(Organisation, pk=pk)
        try:
            join_request_create(organisation=organisation, user=request.user, message=request.POST.get("message", ""))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                _(
                    "We have asked the administrators of %(name)s to approve your request. We will tell you their answer."
                )
                % {"name": localised(organisation, "name")},
            )
        return redirect("accounts:organisation")


class JoinRequestDecideView(LoginRequiredMixin, View):
    def post(self, request, pk, decision):
        if decision not in ("approve", "decline"):
            raise Http404
        join_request = get_object_or_404(
            JoinRequest.objects.select_related("organisation", "user").filter(decided_at__isnull=True), pk=pk
        )
        if not request.user.has_perm("portal.accounts.decide_join_request", join_request.organisation):
            raise Http404
        join_request_decide(request=join_request, actor=request.user, approve=decision == "approve")
        if decision == "approve":
            messages.success(request, _("%(person)s is now a member.") % {"person": join_request.user.full_name})
        else:
            messages.info(
                request, _("The request of %(person)s is declined.") % {"person": join_request.user.full_name}
            )
        return redirect("accounts:organisation")
