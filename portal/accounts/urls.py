from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("signup/", views.SignupView.as_view(), name="signup"),
    path("signup/done/", views.SignupDoneView.as_view(), name="signup_done"),
    path("verify/resend/", views.VerificationResendView.as_view(), name="verify_resend"),
    path("verify/<str:token>/", views.VerifyView.as_view(), name="verify"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", views.PasswordChangeView.as_view(), name="password_change"),
    path("two-step/", views.SecondFactorView.as_view(), name="second_factor"),
    path("two-step/setup/", views.SecondFactorSetupView.as_view(), name="second_factor_setup"),
    path("two-step/verify/", views.SecondFactorVerifyView.as_view(), name="second_factor_verify"),
    path("two-step/recovery-codes/", views.RecoveryCodesRenewView.as_view(), name="recovery_codes_renew"),
    path("two-step/turn-off/", views.SecondFactorDisableView.as_view(), name="second_factor_disable"),
    path("sign-in-security/", views.SignInSecurityView.as_view(), name="sign_in_security"),
    path("sign-in-security/unlock/", views.LockoutClearView.as_view(), name="lockout_clear"),
    path("sign-in-security/<int:pk>/reset/", views.SecondFactorResetView.as_view(), name="second_factor_reset"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/done/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("password/reset/complete/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("organisation/", views.OrganisationView.as_view(), name="organisation"),
    path("organisation/new/", views.OrganisationCreateView.as_view(), name="organisation_create"),
    path("organisations/search/", views.OrganisationSearchView.as_view(), name="organisation_search"),
    path("organisations/<int:pk>/join/", views.JoinRequestCreateView.as_view(), name="join_request"),
    path(
        "join-requests/<int:pk>/<str:decision>/",
        views.JoinRequestDecideView.as_view(),
        name="join_request_decide",
    ),
    path("organisations/<int:pk>/", views.OrganisationDetailView.as_view(), name="organisation_detail"),
    path("organisations/<int:pk>/invite/", views.InvitationSendView.as_view(), name="invite"),
    path("invitations/<uuid:token>/", views.InvitationAcceptView.as_view(), name="invitation_accept"),
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("my-data/", views.MyDataView.as_view(), name="my_data"),
    path("my-data/download/", views.MyDataDownloadView.as_view(), name="my_data_download"),
    path("my-data/erasure/", views.ErasureRequestCreateView.as_view(), name="erasure_request"),
    path("erasure-requests/", views.ErasureRequestListView.as_view(), name="erasure_requests"),
    path("erasure-requests/<int:pk>/decide/", views.ErasureRequestDecideView.as_view(), name="erasure_request_decide"),
]
