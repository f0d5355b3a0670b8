from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from portal.audit.admin import AuditedModelAdmin, ReadOnlyModelAdmin
from portal.audit.services import audit_record

from .models import ConsentRecord, ErasureRequest, Invitation, Membership, Organisation, User
from .services import user_has_audit_records, user_remove, user_role_change


class UserAdminCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name", "role")


class UserAdminChangeForm(UserChangeForm):
    role_change_reason = forms.CharField(
        label=_("Reason for the role change"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when you change the role; it is kept in the audit log."),
    )
    acting_user = None  # set by UserAdmin.get_form

    class Meta:
        model = User
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        if "role" in self.changed_data:
            if not cleaned.get("role_change_reason", "").strip():
                self.add_error("role_change_reason", _("Give a reason for the role change."))
            if self.acting_user is not None and self.acting_user.pk == self.instance.pk:
                self.add_error("role", _("You cannot change your own role."))
        return cleaned


@admin.register(User)
class UserAdmin(AuditedModelAdmin, DjangoUserAdmin):
    """Roles and access flags are audited with their values before and after (the role with its reason, through
    ``user_role_change``); personal details are not copied into the audit log."""

    audit_fields = ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")
    form = UserAdminChangeForm
    add_form = UserAdminCreationForm
    ordering = ("email",)
    list_display = ("email", "full_name", "role", "email_verified_at", "is_active", "is_staff")
    list_filter = ("role", "is_active", "is_staff", "preferred_language")
    search_fields = ("email", "full_name")
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal details"), {"fields": ("full_name", "preferred_language", "email_verified_at")}),
        (_("Role"), {"fields": ("role", "role_change_reason")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "role", "usable_password", "password1", "password2"),
            },
        ),
    )

    actions = ["remove_users"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.acting_user = request.user
        return form

    # A person the audit log names is deactivated, never deleted (``user_remove``): deleting them would break the
    # chain's record of who acted. The delete page is refused for them; the action below removes either way.
    def has_delete_permission(self, request, obj=None):
        if obj is not None and user_has_audit_records(user=obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request, obj):
        user_remove(user=obj, actor=request.user, reason="Removed in the admin.")

    def delete_queryset(self, request, queryset):
        for user in queryset:
            user_remove(user=user, actor=request.user, reason="Removed in the admin.")

    @admin.action(
        permissions=["change"],
        description=_("Remove the selected users (those the audit log names are deactivated)"),
    )
    def remove_users(self, request, queryset):
        outcomes = [
            user_remove(user=user, actor=request.user, reason="Removed in the admin.")
            for user in queryset.exclude(pk=request.user.pk)
        ]
        self.message_user(
            request,
            _("%(deleted)s deleted, %(deactivated)s deactivated.")
            % {"deleted": outcomes.count("deleted"), "deactivated": outcomes.count("deactivated")},
            messages.SUCCESS,
        )

    def save_model(self, request, obj, form, change):
        if change and "role" in form.changed_data:
            new_role = obj.role
            obj.role = form.initial["role"]
            super().save_model(request, obj, form, change)
            user_role_change(
                user=obj, role=new_role, actor=request.user, reason=form.cleaned_data["role_change_reason"]
            )
            return
        super().save_model(request, obj, form, change)
        if not change:
            audit_record(actor=request.user, action="user.created", obj=obj, after={"role": obj.role})


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(AuditedModelAdmin, DjangoGroupAdmin):
    """Groups carry Django admin permissions: who may change what is configuration, audited like the rest."""


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organisation)
class OrganisationAdmin(AuditedModelAdmin):
    list_display = ("name", "name_zh", "org_type", "br_number", "created_at")
    list_filter = ("org_type",)
    search_fields = ("name", "name_zh", "br_number")
    readonly_fields = ("created_by", "created_at")
    inlines = [MembershipInline]
    audit_related = {"memberships": ("user", "role")}


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "organisation", "invited_by", "created_at", "expires_at", "accepted_at")
    list_filter = ("accepted_at",)
    search_fields = ("email", "organisation__name")
    autocomplete_fields = ["organisation", "invited_by"]
    readonly_fields = ("token", "accepted_at", "accepted_by")
    list_select_related = ("organisation", "invited_by")


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyModelAdmin):
    """Consent is evidence: nobody adds, edits or deletes it by hand."""

    list_display = ("user", "pics_version", "consented_at")
    list_filter = ("pics_version",)
    search_fields = ("user__email", "user__full_name")
    list_select_related = ("user",)


@admin.register(ErasureRequest)
class ErasureRequestAdmin(ReadOnlyModelAdmin):
    """Erasure requests are decided on the secretariat's page (audited), never edited here."""

    list_display = ("pk", "user", "status", "created_at", "decided_at", "decided_by")
    list_filter = ("status",)
    list_select_related = ("user", "decided_by")
