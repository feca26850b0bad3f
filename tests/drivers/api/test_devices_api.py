from decimal import Decimal

import pytest

from tests.factories import ChargePointFactory, ConnectorFactory, SiteFactory, TariffFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/devices/by-location"
MONGOLIA = {
    "bottom-left-longitude": "69.9",
    "bottom-left-latitude": "40",
    "upper-right-longitude": "127",
    "upper-right-latitude": "55",
}


def _charger(longitude, latitude, statuses=("Available",), **fields):
    site = SiteFactory(longitude=Decimal(longitude), latitude=Decimal(latitude))
    fields.setdefault("is_online", True)
    cp = ChargePointFactory(site=site, **fields)
    for number, status in enumerate(statuses, start=1):
        ConnectorFactory(charge_point=cp, connector_id=number, status=status)
    return cp


def test_it_lists_chargers_inside_the_box_in_the_seed_shape(api):
    inside = _charger("106.917", "47.918")
    _charger("4.895", "52.370")  # Amsterdam: outside
    body = api.get(URL, MONGOLIA).json()
    assert body == [
        {
            "_id": str(inside.pk),
            "deviceNumber": inside.identity,
            "price": 0,
            "waitingPrice": 0,
            "location": [106.917, 47.918],
            "state": "Idle",
        }
    ]


def test_the_seed_example_box_works(api):
    response = api.get(
        URL + "?bottom-left-longitude=69.9&bottom-left-latitude=69.9&upper-right-longitude=127&upper-right-latitude=80"
    )
    assert response.status_code == 200 and response.json() == []


def test_prices_come_from_the_tariff_with_vat(api):
    from tariffs.models import TariffAssignment

    cp = _charger("106.9", "47.9")
    tariff = TariffFactory(
        energy_price_per_kwh=Decimal("0.50"), idle_fee_per_minute=Decimal("0.10"), vat_percent=Decimal("10")
    )
    TariffAssignment.objects.create(tariff=tariff, charge_point=cp)
    device = api.get(URL, MONGOLIA).json()[0]
    assert (device["price"], device["waitingPrice"]) == (0.55, 0.11)


@pytest.mark.parametrize(
    "statuses, fields, state",
    [
        (("Available", "Charging"), {}, "Idle"),
        (("Preparing",), {}, "Idle"),
        (("Charging", "SuspendedEV"), {}, "Busy"),
        (("Charging", "Faulted"), {}, "Busy"),
        (("Faulted", "Faulted"), {}, "Error"),
        (("Available",), {"is_online": False}, "Error"),
        (("Available",), {"status": "Faulted"}, "Error"),
        (("Unavailable", "Unavailable"), {}, "Repair"),
        (("Available",), {"is_operative": False}, "Repair"),
        (("Available",), {"registration_status": "Rejected"}, "Repair"),
    ],
)
def test_state_is_derived_from_the_connectors(api, statuses, fields, state):
    _charger("106.9", "47.9", statuses, **fields)
    assert api.get(URL, MONGOLIA).json()[0]["state"] == state


def test_private_chargers_and_chargers_without_a_site_are_not_listed(api):
    _charger("106.9", "47.9", public_charging=False)
    ChargePointFactory(site=None)
    assert api.get(URL, MONGOLIA).json() == []


def test_a_box_across_the_antimeridian(api):
    fiji = _charger("179.5", "-17.7")
    samoa = _charger("-172.1", "-13.8")
    _charger("0", "-15")
    box = {
        "bottom-left-longitude": "170",
        "bottom-left-latitude": "-20",
        "upper-right-longitude": "-170",
        "upper-right-latitude": "-10",
    }
    assert {d["_id"] for d in api.get(URL, box).json()} == {str(fiji.pk), str(samoa.pk)}


@pytest.mark.parametrize(
    "change",
    [
        {"bottom-left-longitude": None},
        {"upper-right-latitude": "north"},
        {"bottom-left-latitude": "91"},
        {"upper-right-longitude": "-180.5"},
        {"bottom-left-latitude": "60"},  # south edge north of the north edge
    ],
)
def test_a_bad_box_answers_400_with_a_message(api, change):
    params = {**MONGOLIA, **change}
    params = {k: v for k, v in params.items() if v is not None}
    response = api.get(URL, params)
    assert response.status_code == 400
    assert response.json()["message"]


def test_it_needs_a_login(client):
    assert client.get(URL, MONGOLIA).status_code == 401


def test_a_charger_whose_price_cannot_be_found_is_not_shown_as_free(api, driver, monkeypatch):
    from tariffs.selectors import PriceUnavailable
    from tests.factories import ChargeSessionFactory

    def unavailable(**kwargs):
        raise PriceUnavailable("no prices")

    monkeypatch.setattr("tariffs.selectors.charge_point_prices", unavailable)
    cp = _charger("106.9", "47.9")
    assert api.get(URL, MONGOLIA).json() == []
    ChargeSessionFactory(user=driver, connector=cp.connectors.get())
    device = api.post("/api/v1/user/me").json()["device"]
    assert device["_id"] == str(cp.pk) and device["price"] is None and device["waitingPrice"] is None
