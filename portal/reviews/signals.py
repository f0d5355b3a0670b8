"""Receivers that keep the stored ranking figures honest (portal/reviews/figures.py): any save or delete of a
submitted review, of a score of one, or of an assignment that has one marks its call's figures stale, in the same
transaction. They change no domain state. Queryset ``update()`` / ``bulk_create()`` send no signal: the services
that use them on these models call ``figures_invalidate*`` themselves."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .enums import ReviewState
from .figures import figures_invalidate, figures_invalidate_for_assignments, figures_invalidate_for_reviews
from .models import Assignment, Review, Score


@receiver(post_save, sender=Review, dispatch_uid="reviews.figures_review_saved")
@receiver(post_delete, sender=Review, dispatch_uid="reviews.figures_review_deleted")
def review_changed(sender, instance: Review, **kwargs) -> None:
    if instance.state == ReviewState.SUBMITTED:  # a draft counts in no figure
        figures_invalidate(
            call_ids=Assignment.objects.filter(pk=instance.assignment_id).values_list("proposal__call_id", flat=True)
        )


@receiver(post_save, sender=Score, dispatch_uid="reviews.figures_score_saved")
@receiver(post_delete, sender=Score, dispatch_uid="reviews.figures_score_deleted")
def score_changed(sender, instance: Score, **kwargs) -> None:
    figures_invalidate_for_reviews([instance.review_id])


@receiver(post_save, sender=Assignment, dispatch_uid="reviews.figures_assignment_saved")
def assignment_changed(sender, instance: Assignment, created: bool = False, **kwargs) -> None:
    # A new assignment has no review yet; one with reviews cannot be deleted (they protect it).
    if not created:
        figures_invalidate_for_assignments([instance.pk])
