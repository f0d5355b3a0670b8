from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, DecimalField, F, Prefetch, Q, Value, When
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import FormView, TemplateView

from portal.accounts.models import Organisation
from portal.calls.models import Call, ResourcePool
from portal.core.downloads import download_response
from portal.core.forms import error_text, form_add_service_errors
from portal.core.permissions import PermissionRequiredMixin
from portal.reports.snapshots import kept_values, snapshot_key
from portal.reviews.conflicts import WITHHELD, conflicted_in_call_ids

from . import explain, selectors, services
from .charts import Series, bar_chart
from .forms import AwardAdjustForm, CompareForm, LockCancelForm, LockConfirmForm, RunStartForm, UsageUploadForm
from .models import (
    AllocationRun,
    Award,
    AwardHours,
    ClawbackCheckpoint,
    RunStatus,
    Tranche,
    UsageImport,
    UsageImportStatus,
)
from .usage import usage_import_get, usage_import_queue, usage_import_totals, usage_imports, usage_upload_max_bytes

STAGES = {
    "queued": gettext_lazy("Waiting for a worker"),
    "solving": gettext_lazy("Solving"),
    "saving": gettext_lazy("Saving the awards"),
    "finished": gettext_lazy("Finished"),
    "failed": gettext_lazy("Failed"),
}
USAGE_IMPORT_WAITING = (UsageImportStatus.QUEUED, UsageImportStatus.RUNNING)


def _withhold(items, *, hidden: set[int]) -> list:
    """Issue 9 point 1, on the allocation pages: an item (award, comparison row, claw-back row) of a proposal the
    official is conflicted on keeps its reference and title, loses every figure (``item.withheld`` is True; the
    templates show "withheld — conflict of interest") and goes to the end in reference order, so that its place
    in a list ordered by score tells nothing."""
    shown, withheld = [], []
    for item in items:
        if _proposal(item).pk in hidden:
            withheld.append(item)
        else:
            shown.append(item)
    for item in shown:
        _set(item, False)
    for item in withheld:
        _set(item, True)
    withheld.sort(key=lambda item: _proposal(item).reference or "")
    return shown + withheld


def _set(item, value: bool) -> None:
    if isinstance(item, dict):
        item["withheld"] = value
    else:
        item.withheld = value


def _proposal(item):
    return item["proposal"] if isinstance(item, dict) else item.proposal


class OfficialMixin(PermissionRequiredMixin):
    """The allocation pages are for officials (others: 403). An action an official may not take (the POST of a
    page, see ``method_permissions``) is not there for them: 404.

    What an official conflicted on a proposal of the call gets (issue 9 point 1): the run page, the run comparison,
    the lock page and the claw-back checkpoint are given as a copy with that proposal's figures withheld (score,
    share, hours, subsidy and reason), its row last; the run's problem (``problem.json``, the exact input of a
    run, which names every proposal's score) is refused (403); the project page of that proposal is a 404 (it is
    not among the proposals visible to them)."""

    permission_required = "portal.allocations.view_allocation"

    def permission_denied(self, permission):
        if permission in self.get_permission_required():
            return super().permission_denied(permission)
        raise Http404


class IndexView(OfficialMixin, TemplateView):
    template_name = "allocations/index.html"

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "calls": selectors.calls_with_allocations(),
            "pools": ResourcePool.objects.order_by("code"),
        }


class PoolView(OfficialMixin, TemplateView):
    template_name = "allocations/pool.html"

    def get_context_data(self, **kwargs):
        pool = get_object_or_404(ResourcePool, code=kwargs["code"])
        rows = selectors.pool_capacity(pool=pool)
        chart = bar_chart(
            chart_id="utilisation",
            title=_("%(pool)s: capacity, awarded and used per quarter") % {"pool": pool.name},
            description=_("GPU-hours per quarter; the table below gives the same figures."),
            labels=[row.quarter.code for row in rows],
            series=[
                Series(_("Awardable"), [row.awardable for row in rows]),
                Series(_("Awarded"), [row.awarded for row in rows]),
                Series(_("Used"), [row.used for row in rows]),
            ],
        )
        return {**super().get_context_data(**kwargs), "pool": pool, "rows": rows, "chart": chart}


class CallAllocationView(OfficialMixin, TemplateView):
    template_name = "allocations/call.html"
    method_permissions = {"post": "portal.allocations.run_allocation"}

    def get_context_data(self, **kwargs):
        call = get_object_or_404(Call, pk=kwargs["pk"])
        runs = list(selectors.runs_for_call(call=call))
        user = self.request.user
        return {
            **super().get_context_data(**kwargs),
            "call": call,
            "runs": runs,
            "stages": STAGES,
            "form": kwargs.get("form") or RunStartForm(),
            "compare_form": CompareForm(runs=runs),
            "locked": next((r for r in runs if r.locked_at and r.kind == "allocation"), None),
            "last_good": selectors.last_good_run(call=call),
            "settings": selectors.call_settings(call=call),
            "checkpoints": list(selectors.checkpoints_for_call(call=call)),
            "proposal_count": selectors.allocatable_proposals(call=call).count(),
            "can_run": user.has_perm("portal.allocations.run_allocation"),
            "can_clawback": user.has_perm("portal.allocations.manage_clawback"),
        }

    def post(self, request, pk):
        call = get_object_or_404(Call, pk=pk)
        if request.POST.get("all_policies"):
            return self.start_all(call)
        form = RunStartForm(request.POST)
        if form.is_valid():
            try:
                run = services.allocation_run_start(call=call, policy=form.cleaned_data["policy"], actor=request.user)
            except ValidationError as exc:
                messages.error(request, error_text(exc))
                return redirect("allocations:call", pk=call.pk)
            messages.success(request, _("Run #%(n)s has started.") % {"n": run.pk})
            return redirect("allocations:run", pk=run.pk)
        return self.render_to_response(self.get_context_data(pk=pk, form=form), status=422)

    def start_all(self, call):
        """Start one run of each policy on the same problem, then compare them side by side."""
        try:
            runs = services.allocation_runs_start_all(call=call, actor=self.request.user)
        except ValidationError as exc:
            messages.error(self.request, error_text(exc))
            return redirect("allocations:call", pk=call.pk)
        messages.success(
            self.request,
            _("Runs %(runs)s have started, one per policy.") % {"runs": ", ".join(f"#{r.pk}" for r in runs)},
        )
        query = "&".join(f"runs={r.pk}" for r in runs)
        return redirect(f"{reverse('allocations:compare', args=[call.pk])}?{query}")


def _run(pk: int) -> AllocationRun:
    return get_object_or_404(
        AllocationRun.objects.select_related(
            "call", "started_by", "locked_by", "lock_proposed_by", "repeat_of", "checkpoint"
        ),
        pk=pk,
    )


# Awards per page of the run page.
RUN_PAGE_SIZE = 50


class RunView(OfficialMixin, TemplateView):
    template_name = "allocations/run.html"

    def get_context_data(self, **kwargs):
        run = _run(kwargs["pk"])
        hidden = conflicted_in_call_ids(user=self.request.user, call_id=run.call_id)
        # A page of awards at a time (a run has one per proposal: thousands). Withheld rows (conflicts) go last in
        # reference order across the whole run, as _withhold puts them, so that their place tells nothing.
        ordered = selectors.run_awards(run=run)
        if hidden:
            withheld = Q(proposal_id__in=hidden)
            ordered = ordered.order_by(
                Case(When(withheld, then=Value(1)), default=Value(0)),
                Case(When(withheld, then=Value(0)), default=F("score"), output_field=DecimalField()).desc(),
                "proposal__reference",
            )
        page = Paginator(ordered, RUN_PAGE_SIZE).get_page(self.request.GET.get("page"))
        awards = list(page.object_list)
        pools = {p.code: p.name for p in run.call.pools.all()}
        # Reasons may name an organisation (an organisation cap): the names of those this page's reasons name.
        named = Organisation.objects.filter(pk__in=explain.named_organisations(awards)).values_list("pk", "name")
        orgs = {f"org-{pk}": name for pk, name in named}
        for award in awards:
            award.reason_text = explain.award_reason(award, pool_names=pools, org_names=orgs)
            award.total_hours = sum((c.gpu_hours for c in award.hours.all()), 0)
            award.requested_hours = sum((c.requested for c in award.hours.all()), 0)
        awards = _withhold(awards, hidden=hidden)
        summary = _run_summaries([run])[0] if run.status == RunStatus.SUCCEEDED else None
        user = self.request.user
        return {
            **super().get_context_data(**kwargs),
            "run": run,
            "stage": STAGES.get(run.stage, run.stage),
            "awards": awards,
            "page_obj": page,
            "is_paginated": page.has_other_pages(),
            "summary": summary,
            "capacity_rows": [
                {
                    "pool": pools.get(pool, pool),
                    "quarter": quarter,
                    "awarded": summary.cells.get((pool, quarter), 0),
                    "capacity": capacity,
                    "used": summary.used_share((pool, quarter)),
                }
                for (pool, quarter), capacity in summary.capacity.items()
            ]
            if summary
            else [],
            "pool_names": pools,
            "last_good": selectors.last_good_run(call=run.call, kind=run.kind),
            "can_adjust": user.has_perm("portal.allocations.adjust_award")
            and not run.is_locked
            and not run.is_lock_proposed,
            "can_propose": user.has_perm("portal.allocations.propose_lock", run)
            and run.status == RunStatus.SUCCEEDED
            and not run.is_locked
            and not run.is_lock_proposed,
            "can_approve": run.is_lock_proposed
            and run.lock_proposed_by_id != user.pk
            and user.has_perm("portal.allocations.lock_allocation", run),
            "can_run": user.has_perm("portal.allocations.run_allocation"),
            "soft_limit_count": run.awards.exclude(soft_limits=[]).exclude(proposal_id__in=hidden).count(),
            "withheld_text": WITHHELD,
            # The score-weighted value sums the scores: with a withheld proposal in it, it is withheld too.
            "value_withheld": bool(hidden) and run.awards.filter(proposal_id__in=hidden).exists(),
        }


def _run_summaries(runs: list[AllocationRun]) -> list[selectors.RunSummary]:
    """``selectors.run_summaries``, kept while nothing they add up changes (awards, their hours, pool and quarter
    codes: watched tables of :mod:`portal.reports.snapshots`): a run of 10,000 proposals is not summed again on
    every view of its page."""
    if not runs:
        return []
    by_pk = {run.pk: run for run in runs}
    totals = kept_values(
        {run.pk: snapshot_key("allocation run totals", run.pk) for run in runs},
        lambda missing: {s.run.pk: s.totals() for s in selectors.run_summaries(runs=[by_pk[pk] for pk in missing])},
    )
    return [selectors.RunSummary.from_totals(run, totals[run.pk]) for run in runs]


class RunStatusView(OfficialMixin, View):
    """The run's progress as JSON, polled by the run page while it runs."""

    def get(self, request, pk):
        run = get_object_or_404(AllocationRun, pk=pk)
        return JsonResponse(
            {
                "status": run.status,
                "status_display": str(run.get_status_display()),
                "progress": run.progress,
                "stage": str(STAGES.get(run.stage, run.stage)),
                "finished": run.is_finished,
            }
        )


class RunInputsView(OfficialMixin, View):
    """The exact problem of a run, for ``manage.py allocate --input``. It names every proposal's score, and a copy
    with some withheld would not be the run's problem: an official conflicted on a proposal of the call is
    refused (403)."""

    def get(self, request, pk):
        import json

        run = get_object_or_404(AllocationRun, pk=pk)
        if conflicted_in_call_ids(user=request.user, call_id=run.call_id):
            raise PermissionDenied("conflict of interest")
        return download_response(
            json.dumps(run.inputs, indent=2, ensure_ascii=False) + "\n",
            filename=f"allocation-run-{run.pk}-problem.json",
            content_type="application/json",
        )


class RunRepeatView(OfficialMixin, View):
    method_permissions = {"post": "portal.allocations.run_allocation"}

    def post(self, request, pk):
        run = _run(pk)
        try:
            new = services.allocation_run_repeat(run=run, actor=request.user, policy=request.POST.get("policy") or None)
        except ValidationError as exc:
            messages.error(request, error_text(exc))
            return redirect("allocations:run", pk=run.pk)
        messages.success(
            request, _("Run #%(n)s repeats run #%(old)s on the same inputs.") % {"n": new.pk, "old": run.pk}
        )
        return redirect("allocations:run", pk=new.pk)


class RunLockView(OfficialMixin, TemplateView):
    """Four-eyes locking. The page states the totals; an allocation officer proposes the lock after confirming
    them, an approving official (not the proposer) approves it after confirming them again, which locks the run.
    The proposer may withdraw a proposal and the approver may send it back, each with a reason."""

    template_name = "allocations/lock.html"

    def get_permission_object(self):
        self.run = _run(self.kwargs["pk"])
        return self.run

    def get_context_data(self, **kwargs):
        run = self.run
        user = self.request.user
        totals = services.lock_totals(run)
        pools = {p.code: p.name for p in run.call.pools.all()}
        cells = []
        capacity = {
            f"{pool} {quarter}": hours
            for pool, entry in (run.inputs.get("pools") or {}).items()
            for quarter, hours in entry["capacity"].items()
        }
        for key, hours in totals["hours"].items():
            pool, quarter = key.split(" ")
            cells.append(
                {"pool": pools.get(pool, pool), "quarter": quarter, "hours": hours, "capacity": capacity.get(key)}
            )
        soft = list(
            run.awards.filter(pk__in=totals["soft_limits"]).select_related("proposal__organisation", "adjusted_by")
        )
        orgs = {f"org-{a.proposal.organisation_id}": a.proposal.organisation.name for a in soft}
        for award in soft:
            award.limits_text = [explain.limit_text(c, pool_names=pools, org_names=orgs) for c in award.soft_limits]
        soft = _withhold(soft, hidden=conflicted_in_call_ids(user=user, call_id=run.call_id))
        proposed = run.is_lock_proposed
        return {
            **super().get_context_data(**kwargs),
            "run": run,
            "call": run.call,
            "totals": totals,
            "cells": cells,
            "soft": soft,
            "changed": proposed and totals != run.lock_totals,
            "withheld_text": WITHHELD,
            "form": kwargs.get("form") or LockConfirmForm(initial={"confirmed": services.lock_fingerprint(totals)}),
            "cancel_form": kwargs.get("cancel_form") or LockCancelForm(),
            "can_propose": user.has_perm("portal.allocations.propose_lock", run)
            and run.status == RunStatus.SUCCEEDED
            and not run.is_locked
            and not proposed,
            "can_approve": user.has_perm("portal.allocations.lock_allocation", run)
            and proposed
            and run.lock_proposed_by_id != user.pk,
            "can_cancel": proposed
            and (run.lock_proposed_by_id == user.pk or user.has_perm("portal.allocations.lock_allocation")),
        }

    def post(self, request, pk):
        run = self.run
        action = request.POST.get("action")
        if action == "cancel":
            if run.lock_proposed_by_id != request.user.pk and not request.user.has_perm(
                "portal.allocations.lock_allocation", run
            ):
                raise Http404
            form = LockCancelForm(request.POST)
            if not form.is_valid():
                return self.render_to_response(self.get_context_data(cancel_form=form), status=422)
            try:
                services.allocation_lock_cancel(run=run, actor=request.user, reason=form.cleaned_data["reason"])
            except PermissionDenied:
                raise Http404 from None
            except ValidationError as exc:
                messages.error(request, error_text(exc))
                return redirect("allocations:run_lock", pk=run.pk)
            messages.success(request, _("The proposed lock is withdrawn; the awards can be adjusted again."))
            return redirect("allocations:run", pk=run.pk)
        if action not in ("propose", "approve"):
            raise Http404
        permission = "portal.allocations.propose_lock" if action == "propose" else "portal.allocations.lock_allocation"
        refused = self.refuse_unless(permission)
        if refused is not None:
            return refused
        form = LockConfirmForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=422)
        try:
            if action == "propose":
                services.allocation_lock_propose(run=run, actor=request.user, confirmed=form.cleaned_data["confirmed"])
            else:
                services.allocation_lock(
                    call=run.call, run=run, actor=request.user, confirmed=form.cleaned_data["confirmed"]
                )
        except ValidationError as exc:
            messages.error(request, _("The allocation was not locked: %(reason)s") % {"reason": error_text(exc)})
            return redirect("allocations:run_lock", pk=run.pk)
        if action == "propose":
            messages.success(request, _("The lock is proposed; an approving official is asked to approve it."))
        else:
            messages.success(request, _("The allocation is locked and the projects are told."))
        return redirect("allocations:run", pk=run.pk)


class CompareView(OfficialMixin, TemplateView):
    """Runs side by side: the totals, capacity used per pool and quarter, and every project's hours, share and
    reason in each run."""

    template_name = "allocations/compare.html"

    def get_context_data(self, **kwargs):
        call = get_object_or_404(Call, pk=kwargs["pk"])
        runs_all = list(AllocationRun.objects.filter(call=call).order_by("-pk"))
        form = CompareForm(self.request.GET or None, runs=runs_all)
        picked = [r for r in runs_all if form.is_valid() and r.pk in form.cleaned_data["runs"]]
        chosen = sorted((r for r in picked if r.status == RunStatus.SUCCEEDED), key=lambda r: r.pk)
        summaries = _run_summaries(chosen)
        cells = sorted({key for s in summaries for key in s.capacity})
        pools = {p.code: p.name for p in call.pools.all()}
        rows = [
            {
                "pool": pools.get(pool, pool),
                "quarter": quarter,
                "values": [(s.cells.get((pool, quarter), 0), s.used_share((pool, quarter))) for s in summaries],
            }
            for pool, quarter in cells
        ]
        projects = _withhold(
            selectors.run_comparison(runs=chosen, pool_names=pools),
            hidden=conflicted_in_call_ids(user=self.request.user, call_id=call.pk),
        )
        return {
            **super().get_context_data(**kwargs),
            "call": call,
            "form": form,
            "summaries": summaries,
            "rows": rows,
            "projects": projects,
            "withheld_text": WITHHELD,
            "value_withheld": any(row.withheld for row in projects),
            "unfinished": [r for r in picked if r.status != RunStatus.SUCCEEDED],
        }


class AwardAdjustView(OfficialMixin, FormView):
    template_name = "allocations/award_adjust.html"
    form_class = AwardAdjustForm
    permission_required = "portal.allocations.adjust_award"

    def get_permission_object(self):
        self.award = get_object_or_404(
            Award.objects.select_related("run__call", "proposal__organisation").prefetch_related(
                Prefetch("hours", queryset=AwardHours.objects.select_related("pool", "quarter"))
            ),
            pk=self.kwargs["pk"],
        )
        return self.award

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "cells": self.award.hours.all()}

    def get_context_data(self, **kwargs):
        cells = list(self.award.hours.all())
        return {
            **super().get_context_data(**kwargs),
            "award": self.award,
            "run": self.award.run,
            "minimum": services.minimum_hours(cells, self.award.min_share),
            "requested": sum((c.requested for c in cells), 0),
        }

    def form_valid(self, form):
        try:
            services.award_adjust(
                award=self.award,
                hours=form.hours(),
                reason=form.cleaned_data["reason"],
                limit_reason=form.cleaned_data["limit_reason"],
                actor=self.request.user,
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.render_to_response(self.get_context_data(form=form), status=422)
        messages.success(
            self.request, _("The award of %(reference)s is adjusted.") % {"reference": self.award.proposal.reference}
        )
        return redirect("allocations:run", pk=self.award.run_id)

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=422)


class UsageUploadView(OfficialMixin, FormView):
    """Upload a sacct export: checked, stored and queued here; a worker imports it (see ``usage_import_queue``)."""

    template_name = "allocations/usage_upload.html"
    form_class = UsageUploadForm
    permission_required = "portal.allocations.import_usage"

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "imports": usage_imports()[:20],
            "max_size": usage_upload_max_bytes(),
        }

    def form_valid(self, form):
        try:
            record = usage_import_queue(upload=form.cleaned_data["file"], actor=self.request.user)
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.form_invalid(form)
        return redirect("allocations:usage_import", pk=record.pk)

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=422)


def _usage_import(pk: int) -> UsageImport:
    try:
        return usage_import_get(pk=pk)
    except UsageImport.DoesNotExist:
        raise Http404 from None


class UsageImportView(OfficialMixin, TemplateView):
    """One import: queued, running, its counts and totals, or why the file was refused."""

    template_name = "allocations/usage_import.html"
    permission_required = "portal.allocations.import_usage"

    def get_context_data(self, **kwargs):
        record = _usage_import(kwargs["pk"])
        done = record.status == UsageImportStatus.COMPLETED
        return {
            **super().get_context_data(**kwargs),
            "record": record,
            "pending": record.status in USAGE_IMPORT_WAITING,
            "totals": usage_import_totals(record=record) if done else [],
        }


class UsageImportStatusView(OfficialMixin, View):
    """An import's state as JSON, polled by its page while it waits or runs."""

    permission_required = "portal.allocations.import_usage"

    def get(self, request, pk):
        record = _usage_import(pk)
        return JsonResponse(
            {
                "status": record.status,
                "status_display": str(record.get_status_display()),
                "finished": record.status not in USAGE_IMPORT_WAITING,
                "lines_read": record.lines_read,
                "jobs_created": record.jobs_created,
                "jobs_updated": record.jobs_updated,
                "jobs_pending": record.jobs_pending,
                "unknown_accounts": record.unknown_accounts,
                "error": record.error,
            }
        )


class ProjectUsageView(View):
    """The project's award and usage moved to its project page (portal.projects); the old address leads there."""

    http_method_names = ["get"]

    def get(self, request, pk):
        return redirect("projects:project", pk=pk)


class TrancheReleaseView(OfficialMixin, View):
    method_permissions = {"post": "portal.allocations.release_tranche"}

    def post(self, request, pk):
        tranche = get_object_or_404(Tranche.objects.select_related("award__proposal"), pk=pk)
        try:
            services.tranche_release(tranche=tranche, actor=request.user)
        except ValidationError as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, _("Tranche %(n)s is released.") % {"n": tranche.number})
        return redirect("projects:project", pk=tranche.award.proposal_id)


class CheckpointView(OfficialMixin, TemplateView):
    template_name = "allocations/checkpoint.html"
    method_permissions = {"post": "portal.allocations.manage_clawback"}

    def get_context_data(self, **kwargs):
        checkpoint = get_object_or_404(ClawbackCheckpoint.objects.select_related("call"), pk=kwargs["pk"])
        hidden = conflicted_in_call_ids(user=self.request.user, call_id=checkpoint.call_id)
        return {
            **super().get_context_data(**kwargs),
            "checkpoint": checkpoint,
            "call": checkpoint.call,
            "rows": _withhold(services.clawback_preview(checkpoint=checkpoint), hidden=hidden),
            "clawbacks": list(checkpoint.clawbacks.select_related("award__proposal")),
            "withheld_text": WITHHELD,
            "runs": list(checkpoint.reallocation_runs.order_by("-pk")),
            "can_clawback": self.request.user.has_perm("portal.allocations.manage_clawback", checkpoint),
        }

    def post(self, request, pk):
        checkpoint = get_object_or_404(ClawbackCheckpoint.objects.select_related("call"), pk=pk)
        action = request.POST.get("action")
        try:
            if action == "warn":
                told = services.clawback_warn(checkpoint=checkpoint, actor=request.user)
                messages.success(request, _("%(n)s projects were warned.") % {"n": told})
            elif action == "apply":
                made = services.clawback_apply(checkpoint=checkpoint, actor=request.user)
                messages.success(request, _("Hours were reclaimed from %(n)s projects.") % {"n": len(made)})
            elif action == "reallocate":
                run = services.reallocation_start(checkpoint=checkpoint, actor=request.user)
                return redirect("allocations:run", pk=run.pk)
        except ValidationError as exc:
            messages.error(request, error_text(exc))
        return redirect("allocations:checkpoint", pk=checkpoint.pk)


class ScheduleView(OfficialMixin, View):
    """Create the call's default claw-back schedule."""

    method_permissions = {"post": "portal.allocations.manage_clawback"}

    def post(self, request, pk):
        call = get_object_or_404(Call, pk=pk)
        services.clawback_schedule(call=call, actor=request.user)
        return redirect("allocations:call", pk=call.pk)
