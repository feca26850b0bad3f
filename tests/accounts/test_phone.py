import pytest

from accounts.errors import DomainError
from accounts.phone import phone_normalise


@pytest.mark.parametrize(
    "raw, e164",
    [
        ("+976 8666 1488", "+97686661488"),
        ("+31 6 1234 5678", "+31612345678"),
        ("+31-6-12345678", "+31612345678"),
    ],
)
def test_it_normalises_phone_numbers_to_e164(raw, e164):
    assert phone_normalise(raw) == e164


@pytest.mark.parametrize("raw", ["", "hello", "12345", "+1 555", "+999 1234 5678", "0612345678"])
def test_it_refuses_what_is_not_a_valid_number(raw):
    with pytest.raises(DomainError) as error:
        phone_normalise(raw)
    assert error.value.code == "invalid_phone"


def test_a_default_region_reads_national_numbers(settings):
    settings.DRIVERS_DEFAULT_PHONE_REGION = "NL"
    assert phone_normalise("06 1234 5678") == "+31612345678"
