"""manage.py generate_prices [--month YYYY-MM] [--months N] [--market M] [--min X --max Y] [--seed S]"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tariffs.models import DEFAULT_MARKET
from tariffs.services import electricity_prices_generate


def _month(text: str) -> date:
    try:
        year, month = text.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise CommandError(f"--month {text!r} is not YYYY-MM") from None


class Command(BaseCommand):
    help = "Generate random hourly prices for months that lack them (existing hours are kept)."

    def add_arguments(self, parser):
        parser.add_argument("--month", help="First month, YYYY-MM (default: this month, UTC)")
        parser.add_argument("--months", type=int, default=1, help="How many months from --month")
        parser.add_argument("--market", default=DEFAULT_MARKET)
        parser.add_argument("--min", dest="minimum", help="Lowest price per kWh (default CSMS PRICE_GENERATION_MIN)")
        parser.add_argument("--max", dest="maximum", help="Highest price per kWh (default CSMS PRICE_GENERATION_MAX)")
        parser.add_argument("--seed", help="Make the prices reproducible")

    def handle(self, *args, month, months, market, minimum, maximum, seed, **options):
        first = _month(month) if month else timezone.now().date().replace(day=1)
        for offset in range(max(1, months)):
            index = first.month - 1 + offset
            current = date(first.year + index // 12, index % 12 + 1, 1)
            try:
                created = electricity_prices_generate(
                    month_start=current,
                    market=market,
                    minimum=minimum,
                    maximum=maximum,
                    seed=seed,
                )
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
            self.stdout.write(f"{market} {current:%Y-%m}: {created} hours created")
