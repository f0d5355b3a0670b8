from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from portal.core.demo import DemoSeeder, print_logins


class Command(BaseCommand):
    help = "Load the demo data (safe to run again) and print the demo logins."

    def handle(self, *args, **options):
        # The demo's own confirmation emails are not worth printing.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            DemoSeeder(self.stdout).run()
        print_logins(self.stdout)
