from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.accounts.security import totp_code_now
from portal.core.demo import DEMO_TOTP_KEY


class Command(BaseCommand):
    help = (
        "Print the current two-step sign-in code of a demo official (their authenticator has the published demo "
        "secret). Refuses any other account."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="a demo account, e.g. secretariat@demo.aiss.hk")

    def handle(self, *args, **options):
        email = options["email"].strip().lower()
        device = TOTPDevice.objects.filter(user__email__iexact=email, confirmed=True, key=DEMO_TOTP_KEY).first()
        if device is None:
            raise CommandError(f"{email} has no demo authenticator (only accounts made by seed_demo have one).")
        self.stdout.write(totp_code_now(device))
