"""manage.py import_prices FILE [--market M] [--unit MWh|kWh] [--currency EUR] [--time-zone Europe/Amsterdam]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from tariffs.models import DEFAULT_MARKET
from tariffs.services import electricity_prices_import_csv


class Command(BaseCommand):
    help = "Import hourly day-ahead electricity prices from a CSV file (all rows or none)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV with a timestamp, a price per MWh or kWh and a currency")
        parser.add_argument("--market", default=DEFAULT_MARKET)
        parser.add_argument("--unit", choices=["MWh", "kWh", "mwh", "kwh"], help="Unit of a plain 'price' column")
        parser.add_argument("--currency", help="Currency when the file has no currency column")
        parser.add_argument("--time-zone", help="IANA zone of timestamps written without an offset")

    def handle(self, *args, file, market, unit, currency, time_zone, **options):
        try:
            with open(file, "rb") as handle:
                result = electricity_prices_import_csv(
                    file=handle,
                    market=market,
                    unit=unit,
                    currency=currency,
                    time_zone=time_zone,
                )
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from exc
        if not result.ok:
            raise CommandError("nothing imported:\n" + "\n".join(str(error) for error in result.errors))
        self.stdout.write(f"{market}: {result.created} created, {result.updated} updated from {result.rows} rows")
