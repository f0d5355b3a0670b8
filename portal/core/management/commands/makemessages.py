"""Django's makemessages over the product's own files, with the catalogue sorted by message, so that it does not depend on the order in which
the file system lists the source files: every checkout writes the same catalogue, and two branches that add
messages change different lines of it."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    msgmerge_options = [*makemessages.Command.msgmerge_options, "--sort-output"]
    msguniq_options = [*makemessages.Command.msguniq_options, "--sort-output"]
    msgattrib_options = [*makemessages.Command.msgattrib_options, "--sort-output"]

    def handle(self, *args, **options):
        # Only the product's messages: not the tests', the virtualenv's or node_modules'.
        options["ignore_patterns"] = [*options.get("ignore_patterns", []), "tests/*", ".venv/*", "node_modules/*"]
        return super().handle(*args, **options)
