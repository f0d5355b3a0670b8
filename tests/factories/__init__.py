"""One factory per model (factory_boy). Import from ``tests.factories``."""

from .accounts import InvitationFactory, MembershipFactory, OrganisationFactory, UserFactory
from .calls import (
    CallFactory,
    PoolCapacityFactory,
    QuarterFactory,
    ResourcePoolFactory,
    RubricCriterionFactory,
    SchemeFactory,
    open_call,
)
from .proposals import AttachmentFactory, ProposalFactory, complete_draft

__all__ = [
    "AttachmentFactory",
    "CallFactory",
    "InvitationFactory",
    "MembershipFactory",
    "OrganisationFactory",
    "PoolCapacityFactory",
    "ProposalFactory",
    "QuarterFactory",
    "ResourcePoolFactory",
    "RubricCriterionFactory",
    "SchemeFactory",
    "UserFactory",
    "complete_draft",
    "open_call",
]
