"""Extension points only: nothing here changes domain state."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from .security import lockout_record, login_failure_record, session_start
from .services import staff_login_record


@receiver(user_logged_in, dispatch_uid="accounts.staff_login_record")
def _record_staff_login(sender, request, user, **kwargs) -> None:
    staff_login_record(user=user)


@receiver(user_logged_in, dispatch_uid="accounts.session_start")
def _session_start(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        session_start(request=request, user=user)


@receiver(user_login_failed, dispatch_uid="accounts.login_failure_record")
def _record_login_failure(sender, credentials, request=None, **kwargs) -> None:
    login_failure_record(request=request, credentials=credentials)


@receiver(user_locked_out, dispatch_uid="accounts.lockout_record")
def _record_lockout(sender, request, username, ip_address, **kwargs) -> None:
    lockout_record(request=request, username=username, ip_address=ip_address)
