"""Extension points only: nothing here changes domain state."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .services import staff_login_record


@receiver(user_logged_in, dispatch_uid="accounts.staff_login_record")
def _record_staff_login(sender, request, user, **kwargs) -> None:
    staff_login_record(user=user)
