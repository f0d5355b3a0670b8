"""Small helpers for the report templates."""

from django import template
from django.template.defaultfilters import floatformat
from django.utils.formats import localize
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from portal.core.formatting import format_hkd, format_hours, format_percent
from portal.core.i18n import lang_marked, localised, text_language

register = template.Library()


@register.filter
def get_cell(cells, key):
    """``cells[key]`` for a dict keyed by (pool code, quarter code); None when absent."""
    try:
        return cells.get(tuple(key))
    except AttributeError:
        return None


@register.filter
def sub(value, other):
    """``value - other`` for numbers (Decimal-safe)."""
    return value - other


@register.filter
def proposal_lang(proposal) -> str:
    """`` lang="en"`` (with its leading space) for the ranked list's cell of ``proposal`` (reference, title,
    organisation) when its title and organisation are both in another language than the page's, else nothing.

    The language is marked on the cell, not on a ``<span>`` in it: in the long tables of the approval report an
    inline element in each row was a tenth of WeasyPrint's work (make bench). A title in another language than its
    organisation's is left unmarked there; WeasyPrint's PDF has no language of its own for an element (its
    structure tree carries only the document's), and Latin text is set the same on a page in either language."""
    return _lang_attr(f"{localised(proposal, 'title')} {localised(proposal.organisation, 'name')}")


def _lang_attr(text) -> str:
    """`` lang="…"`` for an element holding only ``text`` when it is not in the page's language (``lang_attr``)."""
    tag = text_language(str(text or ""))
    return format_html(' lang="{}"', tag) if tag else ""


# ---- The rows of the approval report's long tables ------------------------------------------------------------------
# A thousand rows through the template language were a twentieth of the report's CPU time (make bench): the rows
# are written here, every value escaped, each row one line of HTML with as few boxes as it can be (each cell, inline
# element and line is WeasyPrint's work a thousand times), and a new <tbody> every GROUP rows (WeasyPrint's work for
# each page grows with the rows of the group being split, not just that page's).

GROUP = 25


def _text(value) -> str:
    """``{{ value }}``: localised, escaped."""
    return escape(str(localize(value)))


def _grouped(rows: list[str]) -> SafeString:
    groups = ["".join(rows[start : start + GROUP]) for start in range(0, len(rows), GROUP)]
    return mark_safe("</tbody><tbody>".join(groups))  # noqa: S308 - every value escaped by the callers


@register.simple_tag
def ranking_rows(rows) -> SafeString:
    """The ranked list's rows (``reports/approval_report.html``, section 3)."""
    dash = "—"
    words = {
        "recommended": {None: dash, True: escape(gettext("Recommended")), False: escape(gettext("Not recommended"))},
        "approved": {True: escape(gettext("Approved")), False: escape(gettext("Not approved"))},
        "state": {"withdrawn": escape(gettext("Withdrawn")), "ineligible": escape(gettext("Ineligible"))},
    }
    pending = escape(gettext("Pending"))
    html = []
    for row in rows:
        proposal, figures = row.proposal, row.figures
        flags = ("D " if figures.disagreement else "") + ("F " if figures.passes is False else "")
        flags += "R" if figures.has_response else ""
        if row.approved is None:
            decision = words["state"].get(proposal.state, pending)
        else:
            decision = words["approved"][bool(row.approved)]
        recommended = row.recommended
        html.append(
            f'<tr><td class="num">{_text(row.rank) if row.rank else dash}</td>'
            f"<td{proposal_lang(proposal)}>{_text(proposal.reference)} {escape(proposal.local_title)} · "
            f"{escape(localised(proposal.organisation, 'name'))}</td>"
            f'<td class="num">{_text(figures.review_count)}</td>'
            f'<td class="num">{floatformat(figures.raw_mean, 2) or dash}</td>'
            f'<td class="num">{floatformat(figures.calibrated_mean, 2) or dash}</td>'
            f'<td class="num">{floatformat(figures.consensus, 2) or dash}</td>'
            f'<td class="flags">{flags}</td>'
            f"<td>{words['recommended'][None if recommended is None else bool(recommended)]}</td>"
            f"<td>{decision}</td>"
            f'<td class="num">{format_hours(row.requested_hours)}</td></tr>'
        )
    return _grouped(html)


@register.simple_tag
def award_rows(rows, cell_keys) -> SafeString:
    """Section 4's rows (``reports/approval_report.html``): the approved proposals' awards, and an award whose
    decision changed after the allocation was locked, with what became of the decision."""
    dash = "—"
    conditions_label = escape(gettext("Conditions:"))
    pending, not_approved = escape(gettext("Pending")), escape(gettext("Not approved"))
    keys = [tuple(key) for key in cell_keys]
    html = []
    for row in rows:
        proposal, award = row.proposal, row.award
        title = proposal.local_title
        conditions = row.recommendation.conditions if row.recommendation else ""
        if conditions:
            cell = (
                f"<td>{_text(proposal.reference)} {lang_marked(title)}"
                f'<span class="sub">{conditions_label} {escape(conditions)}</span></td>'
            )
        else:
            cell = f"<td{_lang_attr(title)}>{_text(proposal.reference)} {escape(title)}</td>"
        decided = escape(row.decision.decided_by.full_name) if row.decision else ""
        if not row.approved:
            decided += f" ({pending if row.approved is None else not_approved})"
        if award:
            cells = "".join(f'<td class="num">{format_hours(award.cells.get(key)) or "0"}</td>' for key in keys)
            figures = f'{format_hours(award.hours)}</td><td class="num">{format_percent(award.subsidy_rate)}'
            subsidy = format_hkd(award.subsidy)
        else:
            cells = f'<td class="num">{dash}</td>' * len(keys)
            rate = format_percent(row.recommendation.subsidy_rate) if row.recommendation else ""
            figures = f'{dash}</td><td class="num">{rate}'
            subsidy = dash
        html.append(
            f'<tr>{cell}<td>{decided}</td>{cells}<td class="num">{figures}</td><td class="num">{subsidy}</td></tr>'
        )
    return _grouped(html)
