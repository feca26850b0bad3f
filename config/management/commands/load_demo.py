"""Load demo data: an operator with a site of chargers (its 160 A connection shared by
load management), a driver with a wallet and a card, tariffs and a month of hourly
prices. Safe to run any number of times."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, Operator, User
from accounts.secrets import token_hash
from billing.models import Wallet, WalletEntry
from chargepoints import charger_secrets
from chargepoints.models import ChargePoint, Connector, ConnectorType, Evse, IdToken, IdTokenType, Site
from loadmanagement.models import SiteLoadSettings, Strategy
from loadmanagement.services import site_load_settings_update
from tariffs.models import Tariff, TariffAssignment

DEMO_OPERATOR_LOGIN = ("operator", "demo-operator-password")
DEMO_CHARGER_PASSWORD = "demo-charger-password"
DEMO_API_KEY = "demo-operator-api-key-0123456789"
DEMO_DRIVER_PHONE = "+31612345678"
DEMO_CARD_UID = "DEMOCARD01"
# (identity, connectors, max kW per connector)
# Load management on the demo site: its 160 A connection less 10 A, shared giving away
# what a car does not use; 6 A kept free for every idle connector (the fail-safe).
DEMO_LOAD_SETTINGS = {
    "enabled": True,
    "safety_margin_amps": Decimal("10"),
    "strategy": Strategy.UNUSED,
    "fail_safe_amps": Decimal("6"),
}
DEMO_CHARGERS = [("DEMO-CP-1", 2, "22"), ("DEMO-CP-2", 2, "11"), ("DEMO-CP-3", 2, "50"), ("DEMO-201-1", 2, "22")]


def demo_charger_card(identity: str, connector: int) -> str:
    return f"CARD-{identity}-{connector}"


class Command(BaseCommand):
    help = "Create (or refresh) the demo operator, site, chargers, driver, tariffs and prices."

    @transaction.atomic
    def handle(self, *args, **options):
        operator, _ = Operator.objects.get_or_create(slug="demo", defaults={"name": "Demo Charging Co."})
        self._operator_user(operator)
        self._api_key(operator)
        site, _ = Site.objects.get_or_create(
            operator=operator,
            name="Demo Site Amsterdam",
            defaults={
                "address": "Stationsplein 1",
                "city": "Amsterdam",
                "postal_code": "1012 AB",
                "country": "NL",
                "latitude": Decimal("52.378901"),
                "longitude": Decimal("4.900272"),
                "time_zone": "Europe/Amsterdam",
                "grid_capacity_amps": 160,
            },
        )
        for identity, connectors, max_kw in DEMO_CHARGERS:
            self._charger(site, identity, connectors, Decimal(max_kw))
        self._load_management(site)
        driver = self._driver(operator)
        self._tariffs(operator, site)
        self._prices()
        self.stdout.write(
            "Demo data ready:\n"
            f"  operator login   {DEMO_OPERATOR_LOGIN[0]} / {DEMO_OPERATOR_LOGIN[1]}\n"
            f"  operator API key {DEMO_API_KEY}  (header X-API-Key)\n"
            f"  driver phone     {driver.phone}, charge card {DEMO_CARD_UID}\n"
            f"  chargers         {', '.join(c[0] for c in DEMO_CHARGERS)} (password {DEMO_CHARGER_PASSWORD})\n"
        )

    def _load_management(self, site: Site) -> None:
        """Share the site's 160 A connection (once: an operator's later changes stay)."""
        if not SiteLoadSettings.objects.filter(site=site).exists():
            site_load_settings_update(site=site, changes=DEMO_LOAD_SETTINGS, source="demo")

    def _operator_user(self, operator: Operator) -> None:
        username, password = DEMO_OPERATOR_LOGIN
        user = User.objects.filter(username=username).first()
        if user is None:
            User.objects.create_superuser(
                username, password, operator=operator, name="Demo Operator", email="operator@example.com"
            )

    def _api_key(self, operator: Operator) -> None:
        ApiKey.objects.get_or_create(
            key_hash=token_hash(DEMO_API_KEY),
            defaults={"operator": operator, "name": "Demo key", "prefix": DEMO_API_KEY[:8]},
        )

    def _charger(self, site: Site, identity: str, connectors: int, max_kw: Decimal) -> None:
        charge_point, created = ChargePoint.objects.get_or_create(
            identity=identity,
            defaults={
                "site": site,
                "name": f"Demo charger {identity[5:]}",
                "vendor": "Simulated",
                "model": "SIM-22",
                "serial_number": f"SN-{identity}",
                "max_power_kw": max_kw * connectors,
                "password_hash": charger_secrets.make_hash(DEMO_CHARGER_PASSWORD),
            },
        )
        if not created and charge_point.site_id is None:
            charge_point.site = site
            charge_point.registration_status = "Accepted"
            charge_point.save(update_fields=["site", "registration_status", "updated_at"])
        for number in range(1, connectors + 1):
            evse, _ = Evse.objects.get_or_create(charge_point=charge_point, evse_id=number)
            Connector.objects.get_or_create(
                charge_point=charge_point,
                connector_id=number,
                defaults={
                    "evse": evse,
                    "connector_type": ConnectorType.CCS2 if max_kw >= 50 else ConnectorType.TYPE2,
                    "max_power_kw": max_kw,
                },
            )

    def _driver(self, operator: Operator) -> User:
        driver = User.objects.filter(phone=DEMO_DRIVER_PHONE).first()
        if driver is None:
            driver = User.objects.create_user(
                DEMO_DRIVER_PHONE, phone=DEMO_DRIVER_PHONE, name="Demo Driver", email="driver@example.com"
            )
        # Issued by the demo operator: a driver reaches (Blue Current API) the chargers of the
        # operators that issued their cards, so a card without one shows no chargers.
        card, _ = IdToken.objects.get_or_create(
            uid=DEMO_CARD_UID,
            defaults={"user": driver, "operator": operator, "token_type": IdTokenType.ISO14443, "name": "Demo card"},
        )
        if card.operator_id is None:
            card.operator = operator
            card.save(update_fields=["operator"])
        # The simulated chargers' own cards, one per connector (dev.py run's
        # --id-tag CARD-{identity}-{connector}): one card cannot charge on two connectors at once.
        for identity, connectors, _ in DEMO_CHARGERS:
            for connector in range(1, connectors + 1):
                IdToken.objects.get_or_create(
                    uid=demo_charger_card(identity, connector),
                    defaults={
                        "operator": operator,
                        "token_type": IdTokenType.ISO14443,
                        "name": f"Simulated card {identity}/{connector}",
                    },
                )
        wallet, _ = Wallet.objects.get_or_create(user=driver)
        WalletEntry.objects.get_or_create(
            idempotency_key="demo-initial-balance",
            defaults={
                "wallet": wallet,
                "kind": WalletEntry.Kind.TOP_UP,
                "amount": Decimal("50.00"),
                "note": "Demo starting balance",
            },
        )
        return driver

    def _tariffs(self, operator: Operator, site: Site) -> None:
        fixed, _ = Tariff.objects.get_or_create(
            operator=operator,
            name="Standard AC",
            defaults={
                "kind": Tariff.Kind.FIXED,
                "energy_price_per_kwh": Decimal("0.3000"),
                "vat_percent": Decimal("21"),
                "session_fee": Decimal("0.50"),
                "idle_fee_per_minute": Decimal("0.1000"),
                "idle_grace_minutes": 15,
            },
        )
        dynamic, _ = Tariff.objects.get_or_create(
            operator=operator,
            name="Dynamic fast",
            defaults={
                "kind": Tariff.Kind.DYNAMIC,
                "markup_per_kwh": Decimal("0.2000"),
                "vat_percent": Decimal("21"),
                "idle_fee_per_minute": Decimal("0.2500"),
                "idle_grace_minutes": 10,
            },
        )
        epoch = timezone.now().replace(year=2020, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        TariffAssignment.objects.get_or_create(site=site, valid_from=epoch, defaults={"tariff": fixed})
        fast = ChargePoint.objects.get(identity="DEMO-CP-3")
        TariffAssignment.objects.get_or_create(charge_point=fast, valid_from=epoch, defaults={"tariff": dynamic})

    def _prices(self) -> None:
        from tariffs.services import electricity_prices_generate

        today = timezone.now().date()
        month_start = date(today.year, today.month, 1)
        next_month = date(today.year + (today.month == 12), today.month % 12 + 1, 1)
        for start in (month_start, next_month):
            electricity_prices_generate(month_start=start)
