import io

import factory
from django.core.files.base import ContentFile

from portal.proposals.enums import AttachmentKind, ProposalState
from portal.proposals.models import Attachment, Proposal

from .accounts import OrganisationFactory, UserFactory
from .calls import CallFactory


def complete_draft(call, **overrides) -> dict[str, str]:
    """A draft that passes full validation for ``call``: 100,000 GPU-hours in each of its first two quarters."""
    draft = {
        "title": "Cantonese large language model",
        "title_zh": "粵語大型語言模型",
        "summary": "Train a 70B Cantonese model.",
        "objectives": "A strong open Cantonese model.",
        "lead_name": "Dr Chan Tai Man",
        "lead_position": "Associate Professor",
        "lead_email": "chan@example.hk",
        "lead_phone": "+852 2123 4567",
        "model_size": "70 billion parameters",
        "dataset_size": "2 trillion tokens",
        "workload": "training",
        "precision": "bf16",
        "technical_approach": "Continued pre-training then instruction tuning.",
        "implementation_plan": "Q1 data; Q2 training.",
        "deliverables": "Model weights and a report.",
        "kpis": "Benchmark scores.",
        "min_share": "50",
        "compute_justification": "6ND FLOPs estimate.",
        "other_funding": "100000.00",
        "other_funding_sources": "University matching fund",
        "ethics_statement": "Public data only.",
        "data_declaration": "on",
        "accuracy_confirm": "on",
        "pics_consent": "on",
    }
    pools = list(call.pools.order_by("code"))
    quarters = list(call.quarters.order_by("starts_on"))
    for pool in pools:
        for i, quarter in enumerate(quarters):
            draft[f"hours__{pool.code}__{quarter.code}"] = "100000" if i < 2 else ""
    draft.update(overrides)
    return draft


def pdf_bytes(text: str = "Technical proposal", pages: int = 1) -> bytes:
    """A small, valid PDF made with pypdf."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": text})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


class ProposalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Proposal

    call = factory.SubFactory(CallFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    created_by = factory.SubFactory(UserFactory)
    state = ProposalState.DRAFT
    title = factory.Sequence(lambda n: f"Proposal {n}")
    draft = factory.LazyAttribute(lambda o: {"title": o.title})


class AttachmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attachment

    proposal = factory.SubFactory(ProposalFactory)
    kind = AttachmentKind.TECHNICAL
    original_name = "technical.pdf"
    file = factory.LazyFunction(lambda: ContentFile(pdf_bytes(), name="technical.pdf"))
    size = factory.LazyAttribute(lambda o: o.file.size)
    sha256 = factory.LazyAttribute(lambda o: __import__("hashlib").sha256(o.file.read()).hexdigest())
    pages = 1
    uploaded_by = factory.LazyAttribute(lambda o: o.proposal.created_by)
