"""The provider console's view of provisioning. Secrets are write-only here: a server's
token can be replaced, never read back, and account passwords are never shown."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from provisioning.models import (
    PlanMapping,
    ProvisionedService,
    ProvisioningJob,
    RegistrarAccount,
    RegistrarTld,
    Server,
    ServerGroup,
)
from provisioning.modules.base import ModuleError
from provisioning.registrars.accounts import registrar_account_test, registrar_account_tlds_set
from provisioning.registrars.base import REGISTRAR_CHOICES
from provisioning.services import (
    ProvisioningError,
    provisioning_job_rerun,
    server_connection_test,
)


class ServerForm(forms.ModelForm):
    new_secret = forms.CharField(
        label=_("API token or password"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty to keep the stored one. It is stored encrypted and never shown."),
    )

    class Meta:
        model = Server
        fields = [
            "group",
            "name",
            "hostname",
            "port",
            "use_tls",
            "verify_tls",
            "username",
            "timeout_s",
            "extra",
            "capacity",
            "position",
            "is_active",
        ]

    def save(self, commit: bool = True) -> Server:
        server = super().save(commit=False)
        if self.cleaned_data.get("new_secret"):
            server.secret = self.cleaned_data["new_secret"]
        if commit:
            server.save()
        return server


@admin.register(ServerGroup)
class ServerGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "module", "fill_strategy"]


@admin.register(Server)
class ServerAdmin(admin.ModelAdmin):
    form = ServerForm
    list_display = ["name", "group", "hostname", "capacity", "is_active"]
    list_filter = ["group", "is_active"]
    actions = ["test_connection"]

    @admin.action(description=_("Test the connection"), permissions=["change"])
    def test_connection(self, request, queryset) -> None:
        for server in queryset:
            try:
                self.message_user(request, f"{server}: {server_connection_test(server=server)}")
            except ModuleError as exc:
                self.message_user(request, f"{server}: {exc}", level=messages.ERROR)


class RegistrarAccountForm(forms.ModelForm):
    module = forms.ChoiceField(label=_("Module"), choices=REGISTRAR_CHOICES)
    new_secret = forms.CharField(
        label=_("Password or API key"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty to keep the stored one. It is stored encrypted and never shown."),
    )
    tld_list = forms.CharField(
        label=_("TLDs"),
        required=False,
        help_text=_("The TLDs this account registers, separated by spaces or commas: com net it."),
    )

    class Meta:
        model = RegistrarAccount
        fields = [
            "name",
            "module",
            "hostname",
            "port",
            "use_tls",
            "verify_tls",
            "username",
            "timeout_s",
            "extra",
            "is_default",
            "is_active",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["tld_list"].initial = " ".join(
                self.instance.tlds.values_list("tld", flat=True)
            )

    def clean_tld_list(self) -> list[str]:
        tlds = [
            t.strip(".").lower() for t in self.cleaned_data["tld_list"].replace(",", " ").split()
        ]
        taken = RegistrarTld.objects.filter(tld__in=tlds)
        if self.instance.pk:
            taken = taken.exclude(account=self.instance)
        if taken.exists():
            raise forms.ValidationError(
                _("Another registrar account already serves: %(tlds)s"),
                params={"tlds": ", ".join(sorted(taken.values_list("tld", flat=True)))},
            )
        return tlds

    def save(self, commit: bool = True) -> RegistrarAccount:
        account = super().save(commit=False)
        if self.cleaned_data.get("new_secret"):
            account.secret = self.cleaned_data["new_secret"]
        if commit:
            account.save()
        return account


@admin.register(RegistrarAccount)
class RegistrarAccountAdmin(admin.ModelAdmin):
    form = RegistrarAccountForm
    list_display = ["name", "module", "hostname", "is_default", "is_active"]
    actions = ["test_connection"]

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        try:
            registrar_account_tlds_set(account=obj, tlds=form.cleaned_data["tld_list"])
        except ModuleError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)

    @admin.action(description=_("Test the connection"), permissions=["change"])
    def test_connection(self, request, queryset) -> None:
        for account in queryset:
            try:
                self.message_user(request, f"{account}: {registrar_account_test(account=account)}")
            except ModuleError as exc:
                self.message_user(request, f"{account}: {exc}", level=messages.ERROR)


@admin.register(PlanMapping)
class PlanMappingAdmin(admin.ModelAdmin):
    list_display = ["plan_code", "group", "package", "is_active"]


class JobInline(admin.TabularInline):
    model = ProvisioningJob
    fields = ["action", "state", "attempts", "error", "created_at", "finished_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(ProvisionedService)
class ProvisionedServiceAdmin(admin.ModelAdmin):
    list_display = ["username", "client_ref", "domain", "server", "status", "updated_at"]
    list_filter = ["status", "server"]
    search_fields = ["username", "client_ref", "domain", "remote_id"]
    readonly_fields = [
        "public_id",
        "client_ref",
        "domain",
        "plan_code",
        "group",
        "server",
        "package",
        "options",
        "username",
        "remote_id",
        "status",
        "details",
        "upstream_service_id",
        "last_job",
        "created_at",
        "updated_at",
    ]
    exclude = ["password_encrypted"]
    inlines = [JobInline]

    def has_add_permission(self, request) -> bool:
        return False  # accounts come from orders, through the services

    def has_delete_permission(self, request, obj=None) -> bool:
        # Upstream services and jobs point at it: an account is terminated, never deleted.
        return False


@admin.register(ProvisioningJob)
class ProvisioningJobAdmin(admin.ModelAdmin):
    list_display = ["public_id", "service", "action", "state", "attempts", "created_at"]
    list_filter = ["state", "action"]
    readonly_fields = [
        "public_id",
        "service",
        "action",
        "state",
        "params",
        "attempts",
        "max_attempts",
        "log",
        "error",
        "panel_message",
        "next_attempt_at",
        "lease_expires_at",
        "created_at",
        "started_at",
        "finished_at",
    ]
    actions = ["run_again"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # The record of what ran on a panel: a job is cancelled with a reason in the
        # operations queue, never deleted.
        return False

    @admin.action(description=_("Run again"), permissions=["change"])
    def run_again(self, request, queryset) -> None:
        for job in queryset:
            try:
                provisioning_job_rerun(job=job)
            except ProvisioningError as exc:
                self.message_user(request, f"{job.public_id}: {exc}", level=messages.WARNING)
