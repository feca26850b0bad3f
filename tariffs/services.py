"""Writes of the tariffs app: hourly electricity prices (generated or imported) and
tariff assignments. Prices are stored per UTC hour; local time only appears at the edges."""

from __future__ import annotations

import csv
import io
import random
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from chargepoints.models import ChargePoint, Site
from tariffs.currencies import currency_validate
from tariffs.models import DEFAULT_MARKET, ElectricityPrice, Tariff, TariffAssignment

PRICE_PLACES = Decimal("0.000001")  # ElectricityPrice.price_per_kwh has 6 decimal places
GENERATED_PLACES = Decimal("0.00001")


def month_bounds(month_start: date) -> tuple[datetime, datetime]:
    """The UTC start of the month containing `month_start` and the start of the next one."""
    first = datetime(month_start.year, month_start.month, 1, tzinfo=UTC)
    following = datetime(first.year + (first.month == 12), first.month % 12 + 1, 1, tzinfo=UTC)
    return first, following


def _generation_band(minimum, maximum) -> tuple[Decimal, Decimal]:
    try:
        low = Decimal(str(minimum if minimum is not None else settings.PRICE_GENERATION_MIN))
        high = Decimal(str(maximum if maximum is not None else settings.PRICE_GENERATION_MAX))
    except InvalidOperation as exc:
        raise ValidationError("The price band must be decimal numbers.") from exc
    if low < 0 or high < 0:
        raise ValidationError(f"Generated prices cannot be negative (band {low}..{high}).")
    if low > high:
        raise ValidationError(f"The minimum price {low} is above the maximum {high}.")
    return low, high


@transaction.atomic
def electricity_prices_generate(
    *,
    month_start: date,
    market: str = DEFAULT_MARKET,
    minimum: Decimal | str | None = None,
    maximum: Decimal | str | None = None,
    seed: str | int | None = None,
) -> int:
    """Give every hour of the (UTC) month a random price within the band.

    Hours that already have a price (imported, manual or generated earlier) are kept, so
    running it twice changes nothing. With a seed the prices repeat across runs and
    machines: the random stream depends only on the seed, the market and the month.
    Returns how many hours were created.
    """
    low, high = _generation_band(minimum, maximum)
    currency = currency_validate(settings.PRICE_CURRENCY)
    if seed is None or seed == "":
        seed = settings.PRICE_GENERATION_SEED or None
    first, following = month_bounds(month_start)
    rng = random.Random(f"{seed}:{market}:{first:%Y-%m}") if seed is not None else random.SystemRandom()

    existing = set(
        ElectricityPrice.objects.filter(market=market, starts_at__gte=first, starts_at__lt=following).values_list(
            "starts_at", flat=True
        )
    )
    rows = []
    hour = first
    while hour < following:
        # Draw for every hour (even kept ones) so a seeded month is the same however many
        # hours existed beforehand.
        fraction = Decimal(str(rng.random()))
        if hour not in existing:
            price = (low + (high - low) * fraction).quantize(GENERATED_PLACES, rounding=ROUND_HALF_UP)
            rows.append(
                ElectricityPrice(
                    market=market,
                    starts_at=hour,
                    price_per_kwh=price,
                    currency=currency,
                    source=ElectricityPrice.Source.GENERATED,
                )
            )
        hour += timedelta(hours=1)
    # ignore_conflicts: a concurrent generator (beat + a request) may have won the race.
    ElectricityPrice.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return len(rows)


# --- CSV import ------------------------------------------------------------------------

TIMESTAMP_COLUMNS = ("timestamp", "time", "datetime", "start", "starts_at", "hour")
UNIT_DIVISORS = {"mwh": Decimal(1000), "kwh": Decimal(1)}


@dataclass
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportResult:
    """What an import did. With errors, nothing was written."""

    created: int = 0
    updated: int = 0
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _ParsedRow:
    line: int
    starts_at: datetime
    price_per_kwh: Decimal
    currency: str


def _header_map(header: list[str]) -> dict[str, int]:
    return {name.strip().lower().replace(" ", "_"): index for index, name in enumerate(header)}


def _price_column(columns: dict[str, int], unit: str | None) -> tuple[int | None, str | None, str | None]:
    """(price column, fixed unit or None when a unit column exists, error)."""
    for name, column_unit in (("price_per_mwh", "mwh"), ("price_per_kwh", "kwh")):
        if name in columns:
            return columns[name], column_unit, None
    if "price" in columns:
        if "unit" in columns:
            return columns["price"], None, None
        if unit:
            return columns["price"], unit.lower(), None
        return None, None, "a 'price' column needs a 'unit' column (MWh or kWh) or the unit option"
    return None, None, "no price column: expected price_per_mwh, price_per_kwh, or price with a unit"


def _parse_timestamp(raw: str, local_zone: zoneinfo.ZoneInfo | None) -> datetime:
    text = raw.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"timestamp {raw!r} is not ISO 8601 (e.g. 2025-03-30T01:00:00+00:00)") from exc
    if moment.tzinfo is None:
        if local_zone is None:
            raise ValueError(f"timestamp {raw!r} has no UTC offset; add one or pass the time zone option")
        # A naive local time in the repeated hour of a 25-hour day is ambiguous; fold=0
        # takes the first one. Offsets in the file avoid the question entirely.
        moment = moment.replace(tzinfo=local_zone)
    moment = moment.astimezone(UTC)
    if moment.minute or moment.second or moment.microsecond:
        raise ValueError(f"timestamp {raw!r} is not the start of an hour")
    return moment


def _read_rows(
    file: IO,
    *,
    unit: str | None,
    currency: str | None,
    time_zone: str | None,
) -> tuple[list[_ParsedRow], list[RowError], int]:
    content = file.read()
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            return [], [RowError(1, "the file is not UTF-8 text")], 0
    content = content.lstrip("\ufeff")
    try:
        dialect = csv.Sniffer().sniff(content[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(content), dialect)
    header = next(reader, None)
    if not header:
        return [], [RowError(1, "the file is empty")], 0
    columns = _header_map(header)
    errors: list[RowError] = []
    time_column = next((columns[name] for name in TIMESTAMP_COLUMNS if name in columns), None)
    if time_column is None:
        errors.append(RowError(1, f"no timestamp column: expected one of {', '.join(TIMESTAMP_COLUMNS)}"))
    if unit and unit.lower() not in UNIT_DIVISORS:
        errors.append(RowError(1, f"unit {unit!r} is not MWh or kWh"))
    price_column, fixed_unit, problem = _price_column(columns, unit)
    if problem:
        errors.append(RowError(1, problem))
    default_currency = None
    if currency:
        try:
            default_currency = currency_validate(currency)
        except ValidationError as exc:
            errors.append(RowError(1, exc.messages[0]))
    elif "currency" not in columns:
        errors.append(RowError(1, "no currency column and no currency option"))
    local_zone = None
    if time_zone:
        try:
            local_zone = zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors.append(RowError(1, f"{time_zone!r} is not an IANA time zone"))
    if errors:
        return [], errors, 0

    parsed: list[_ParsedRow] = []
    seen: dict[datetime, int] = {}
    count = 0
    for line_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        count += 1
        try:
            parsed_row = _parse_row(
                row,
                line_no,
                columns=columns,
                time_column=time_column,
                price_column=price_column,
                fixed_unit=fixed_unit,
                default_currency=default_currency,
                local_zone=local_zone,
            )
        except ValueError as exc:
            errors.append(RowError(line_no, str(exc)))
            continue
        if parsed_row.starts_at in seen:
            errors.append(
                RowError(
                    line_no, f"hour {parsed_row.starts_at:%Y-%m-%dT%H:%MZ} already on line {seen[parsed_row.starts_at]}"
                )
            )
            continue
        seen[parsed_row.starts_at] = line_no
        parsed.append(parsed_row)
    if count == 0 and not errors:
        errors.append(RowError(1, "the file has a header but no rows"))
    currencies = {row.currency for row in parsed}
    if len(currencies) > 1:
        errors.append(RowError(1, f"one market has one currency; the file mixes {', '.join(sorted(currencies))}"))
    return parsed, errors, count


def _parse_row(
    row: list[str],
    line_no: int,
    *,
    columns: dict[str, int],
    time_column: int,
    price_column: int,
    fixed_unit: str | None,
    default_currency: str | None,
    local_zone: zoneinfo.ZoneInfo | None,
) -> _ParsedRow:
    def cell(index: int) -> str:
        if index >= len(row):
            raise ValueError(f"missing column {index + 1}")
        return row[index].strip()

    starts_at = _parse_timestamp(cell(time_column), local_zone)
    raw_price = cell(price_column)
    try:
        # Accept a decimal comma (common in European exports) when there is no dot.
        price = Decimal(raw_price.replace(",", ".") if "." not in raw_price else raw_price)
    except InvalidOperation:
        raise ValueError(f"price {raw_price!r} is not a number") from None
    if not price.is_finite():
        raise ValueError(f"price {raw_price!r} is not a number")
    if price < 0:
        raise ValueError(f"price {raw_price} is negative; negative hourly prices are not supported")
    row_unit = fixed_unit or cell(columns["unit"]).lower().replace("€/", "").replace("eur/", "")
    if row_unit not in UNIT_DIVISORS:
        raise ValueError(f"unit {row_unit!r} is not MWh or kWh")
    per_kwh = (price / UNIT_DIVISORS[row_unit]).quantize(PRICE_PLACES, rounding=ROUND_HALF_UP)
    if per_kwh >= Decimal("1000000"):
        raise ValueError(f"price {raw_price} per {row_unit} is implausibly high")
    if default_currency and "currency" not in columns:
        currency = default_currency
    else:
        raw_currency = cell(columns["currency"]) or (default_currency or "")
        try:
            currency = currency_validate(raw_currency)
        except ValidationError as exc:
            raise ValueError(exc.messages[0]) from None
    return _ParsedRow(line=line_no, starts_at=starts_at, price_per_kwh=per_kwh, currency=currency)


def electricity_prices_import_csv(
    *,
    file: IO,
    market: str = DEFAULT_MARKET,
    unit: str | None = None,
    currency: str | None = None,
    time_zone: str | None = None,
) -> ImportResult:
    """Import day-ahead prices from a CSV file (text or bytes).

    Columns: a timestamp (`timestamp`, ISO 8601 with offset; naive times need `time_zone`),
    the price as `price_per_mwh`, `price_per_kwh`, or `price` with a `unit` column / the
    `unit` option, and a `currency` column or the `currency` option. Every row is checked
    first; one bad row means nothing is written and each problem is reported by line.
    Existing hours of the market are overwritten: an import is authoritative over
    generated prices.
    """
    parsed, errors, count = _read_rows(file, unit=unit, currency=currency, time_zone=time_zone)
    result = ImportResult(rows=count, errors=errors)
    if errors:
        return result
    with transaction.atomic():
        existing = {
            price.starts_at: price
            for price in ElectricityPrice.objects.select_for_update().filter(
                market=market, starts_at__in=[row.starts_at for row in parsed]
            )
        }
        new_rows, changed = [], []
        for row in parsed:
            price = existing.get(row.starts_at)
            if price is None:
                new_rows.append(
                    ElectricityPrice(
                        market=market,
                        starts_at=row.starts_at,
                        price_per_kwh=row.price_per_kwh,
                        currency=row.currency,
                        source=ElectricityPrice.Source.IMPORTED,
                    )
                )
                continue
            price.price_per_kwh = row.price_per_kwh
            price.currency = row.currency
            price.source = ElectricityPrice.Source.IMPORTED
            changed.append(price)
        ElectricityPrice.objects.bulk_create(new_rows, batch_size=500)
        ElectricityPrice.objects.bulk_update(changed, ["price_per_kwh", "currency", "source"], batch_size=500)
    result.created, result.updated = len(new_rows), len(changed)
    return result


# --- Tariffs ---------------------------------------------------------------------------


@transaction.atomic
def tariff_assign(
    *,
    tariff: Tariff,
    site: Site | None = None,
    charge_point: ChargePoint | None = None,
    valid_from: datetime | None = None,
) -> TariffAssignment:
    """Attach a tariff to a site or to one charge point from `valid_from` (default now).
    Re-assigning at the same moment replaces the earlier choice."""
    if (site is None) == (charge_point is None):
        raise ValidationError("A tariff is assigned to exactly one of a site or a charge point.")
    if valid_from is None:
        valid_from = datetime.now(UTC)
    if valid_from.tzinfo is None:
        raise ValidationError("valid_from must be an aware datetime.")
    currency_validate(tariff.currency)
    assignment, _ = TariffAssignment.objects.update_or_create(
        site=site,
        charge_point=charge_point,
        valid_from=valid_from,
        defaults={"tariff": tariff},
    )
    return assignment
