"""Admin for tariffs, their assignments and hourly electricity prices (with a CSV import
page and a generate-month page; each calls one service)."""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone

from accounts.admin_scoping import OperatorScopedAdmin, ScopedChoices
from tariffs.currencies import currency_validate
from tariffs.models import DEFAULT_MARKET, ElectricityPrice, Tariff, TariffAssignment
from tariffs.services import electricity_prices_generate, electricity_prices_import_csv


class TariffForm(forms.ModelForm):
    class Meta:
        model = Tariff
        fields = [
            "operator",
            "name",
            "currency",
            "kind",
            "energy_price_per_kwh",
            "market",
            "markup_per_kwh",
            "vat_percent",
            "session_fee",
            "idle_fee_per_minute",
            "idle_grace_minutes",
        ]

    def clean_currency(self):
        try:
            return currency_validate(self.cleaned_data["currency"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None


class TariffAssignmentInline(ScopedChoices, admin.TabularInline):
    model = TariffAssignment
    extra = 0
    # raw ids: the charge point admin belongs to another area and may lack search fields.
    raw_id_fields = ["site", "charge_point"]


@admin.register(Tariff)
class TariffAdmin(OperatorScopedAdmin):
    operator_path = "operator_id"
    form = TariffForm
    list_display = [
        "name",
        "operator",
        "kind",
        "energy_price_per_kwh",
        "markup_per_kwh",
        "market",
        "vat_percent",
        "session_fee",
        "idle_fee_per_minute",
        "idle_grace_minutes",
        "currency",
    ]
    list_filter = ["kind", "currency", "market", "operator"]
    search_fields = ["name", "operator__name"]
    inlines = [TariffAssignmentInline]


@admin.register(TariffAssignment)
class TariffAssignmentAdmin(OperatorScopedAdmin):
    operator_path = "tariff__operator_id"
    list_display = ["tariff", "target", "valid_from"]
    list_filter = ["tariff__kind", "tariff__operator"]
    search_fields = ["tariff__name", "site__name", "charge_point__identity"]
    autocomplete_fields = ["tariff"]
    raw_id_fields = ["site", "charge_point"]
    date_hierarchy = "valid_from"

    @admin.display(description="Site / charge point")
    def target(self, obj: TariffAssignment) -> str:
        return str(obj.charge_point or obj.site)


class PriceImportForm(forms.Form):
    file = forms.FileField(help_text="CSV: timestamp, price_per_mwh or price_per_kwh (or price + unit), currency")
    market = forms.CharField(initial=DEFAULT_MARKET, max_length=30)
    unit = forms.ChoiceField(choices=[("", "from the file"), ("MWh", "per MWh"), ("kWh", "per kWh")], required=False)
    currency = forms.CharField(max_length=3, required=False, help_text="When the file has no currency column")
    time_zone = forms.CharField(max_length=64, required=False, help_text="IANA zone of timestamps without an offset")


class GenerateMonthForm(forms.Form):
    month = forms.DateField(
        help_text="Any day of the month (UTC); existing hours are kept", widget=forms.DateInput(attrs={"type": "date"})
    )
    market = forms.CharField(initial=DEFAULT_MARKET, max_length=30)
    minimum = forms.DecimalField(required=False, min_value=0, help_text="Per kWh; default from settings")
    maximum = forms.DecimalField(required=False, min_value=0)
    seed = forms.CharField(required=False, help_text="Makes the prices reproducible")


@admin.register(ElectricityPrice)
class ElectricityPriceAdmin(OperatorScopedAdmin):
    shared = True  # market prices: every operator reads the same curve
    list_display = ["starts_at", "market", "price_per_kwh", "currency", "source", "created_at"]
    list_filter = ["market", "source", "currency"]
    search_fields = ["market"]
    date_hierarchy = "starts_at"
    ordering = ["-starts_at"]
    actions = ["generate_months_of_selected"]
    change_list_template = "admin/tariffs/electricityprice/change_list.html"

    def get_urls(self):
        extra = [
            path(
                "import-csv/", self.admin_site.admin_view(self.import_csv_view), name="tariffs_electricityprice_import"
            ),
            path(
                "generate-month/",
                self.admin_site.admin_view(self.generate_month_view),
                name="tariffs_electricityprice_generate",
            ),
        ]
        return extra + super().get_urls()

    def _require_add(self, request: HttpRequest) -> None:
        if not self.has_add_permission(request):
            raise PermissionDenied

    def _changelist(self) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:tariffs_electricityprice_changelist"))

    def import_csv_view(self, request: HttpRequest) -> HttpResponse:
        self._require_add(request)
        form = PriceImportForm(request.POST or None, request.FILES or None)
        errors = []
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            result = electricity_prices_import_csv(
                file=data["file"],
                market=data["market"],
                unit=data["unit"] or None,
                currency=data["currency"] or None,
                time_zone=data["time_zone"] or None,
            )
            if result.ok:
                self.message_user(
                    request,
                    f"{data['market']}: {result.created} hours created, {result.updated} updated from {result.rows} rows.",
                )
                return self._changelist()
            errors = [str(error) for error in result.errors]
            self.message_user(request, f"Nothing imported: {len(errors)} problem(s).", messages.ERROR)
        return render(
            request,
            "admin/tariffs/electricityprice/form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "form": form,
                "title": "Import hourly prices from CSV",
                "row_errors": errors,
                "multipart": True,
            },
        )

    def generate_month_view(self, request: HttpRequest) -> HttpResponse:
        self._require_add(request)
        form = GenerateMonthForm(request.POST or None, initial={"month": timezone.now().date().replace(day=1)})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                created = electricity_prices_generate(
                    month_start=data["month"],
                    market=data["market"],
                    minimum=data["minimum"],
                    maximum=data["maximum"],
                    seed=data["seed"] or None,
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                self.message_user(request, f"{data['market']} {data['month']:%Y-%m}: {created} hours generated.")
                return self._changelist()
        return render(
            request,
            "admin/tariffs/electricityprice/form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "form": form,
                "title": "Generate a month of hourly prices",
                "row_errors": [],
                "multipart": False,
            },
        )

    @admin.action(description="Fill the months of the selected prices (missing hours only)")
    def generate_months_of_selected(self, request: HttpRequest, queryset) -> None:
        months = sorted({(price.market, date(price.starts_at.year, price.starts_at.month, 1)) for price in queryset})
        created = sum(electricity_prices_generate(month_start=month, market=market) for market, month in months)
        self.message_user(request, f"{created} hours generated in {len(months)} month(s).")
