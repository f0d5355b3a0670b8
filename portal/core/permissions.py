"""The one permission check of the portal's views, on the ``rules`` predicates of each app's ``rules.py``.

A view says what it needs; :class:`PermissionRequiredMixin` checks it before the view does anything, in this
order:

1. an anonymous user is sent to log in (``handle_no_permission``), before anything is loaded;
2. :meth:`~PermissionRequiredMixin.get_permission_object` loads what the permission is about, from a queryset
   filtered by what the user may see, so a guessed id is a 404 before any permission is looked at;
3. every permission in ``permission_required`` must hold for that object (with ``any_permission``, at least one),
   then those in ``method_permissions`` for the request's method (``{"post": "portal.allocations.run_allocation"}``: the
   page may be seen by more people than may act on it);
4. :meth:`~PermissionRequiredMixin.prepare` loads what the page needs once the user may see it, and may answer
   instead of the page (e.g. send the user back when the proposal has moved on).

A refused permission goes to :meth:`~PermissionRequiredMixin.permission_denied`, which answers 403; a view whose
refusal should look otherwise (a 404 that reveals nothing, a redirect that explains) says so there. A permission
that only the request names (which action a form asks for) is checked with
:meth:`~PermissionRequiredMixin.refuse_unless`, and refused the same way."""

from collections.abc import Iterable

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpResponse


def _names(permissions: str | Iterable[str]) -> tuple[str, ...]:
    return (permissions,) if isinstance(permissions, str) else tuple(permissions)


class PermissionRequiredMixin(AccessMixin):
    permission_required: str | Iterable[str] | None = None
    any_permission = False  # True: one of ``permission_required`` is enough
    method_permissions: dict[str, str | Iterable[str]] = {}
    permission_object = None

    def get_permission_required(self) -> tuple[str, ...]:
        if self.permission_required is None:
            raise ImproperlyConfigured(f"{type(self).__name__} names no permission_required")
        return _names(self.permission_required)

    def get_permission_object(self):
        """The object the permissions are checked against (``None``: the permissions are about the user alone).
        Load it from what the user may see, so that a guessed id is a 404."""
        return None

    def missing_permission(self) -> str | None:
        """The first permission the user lacks for ``self.permission_object``, or ``None`` when they may go on."""
        user, obj = self.request.user, self.permission_object
        required = self.get_permission_required()
        if self.any_permission:
            if required and not any(user.has_perm(name, obj) for name in required):
                return required[0]
        else:
            for name in required:
                if not user.has_perm(name, obj):
                    return name
        for name in _names(self.method_permissions.get(self.request.method.lower(), ())):
            if not user.has_perm(name, obj):
                return name
        return None

    def permission_denied(self, permission: str) -> HttpResponse:
        """The answer when ``permission`` is refused: 403."""
        raise PermissionDenied(permission)

    def refuse_unless(self, permission: str) -> HttpResponse | None:
        """For a permission that only the request itself names (the action a form asks for): ``None`` when the user
        holds it for ``self.permission_object``, else the view's refusal."""
        if self.request.user.has_perm(permission, self.permission_object):
            return None
        return self.permission_denied(permission)

    def prepare(self) -> HttpResponse | None:
        """Called once the permissions hold, before the handler: load what the page needs, or return a response
        to give instead of the page."""
        return None

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.permission_object = self.get_permission_object()
        missing = self.missing_permission()
        if missing is not None:
            return self.permission_denied(missing)
        response = self.prepare()
        if response is not None:
            return response
        return super().dispatch(request, *args, **kwargs)
