from django.apps import AppConfig


class ProposalsConfig(AppConfig):
    name = "portal.proposals"
    label = "proposals"
