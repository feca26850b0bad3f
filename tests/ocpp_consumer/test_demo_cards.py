"""The demo's simulated chargers present a card of their own per connector (issue 18): with
one card for all of them, every second session was refused as ConcurrentTx."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command

from chargepoints.models import IdToken
from config.management.commands.load_demo import DEMO_CHARGER_PASSWORD, DEMO_CHARGERS, demo_charger_card
from ocpp_consumer.simulator.runner import ChargerConfig
from sessions_app.models import ChargeSession
from tests.support.chargers import eventually, simulated

DEMO_TAG = "CARD-{identity}-{connector}"  # what dev.py run passes as --id-tag


def test_a_charger_config_fills_in_its_identity_and_connector():
    config = ChargerConfig(identity="DEMO-CP-2", base_url="ws://x/ocpp/", id_tag=DEMO_TAG)
    assert config.tag_for(1) == "CARD-DEMO-CP-2-1" == demo_charger_card("DEMO-CP-2", 1)
    assert ChargerConfig(identity="A", base_url="ws://x/", id_tag="FIXED").tag_for(2) == "FIXED"


@pytest.mark.django_db
def test_the_demo_has_an_accepted_card_for_every_simulated_connector():
    call_command("load_demo", stdout=open("/dev/null", "w"))
    for identity, connectors, _ in DEMO_CHARGERS:
        for connector in range(1, connectors + 1):
            card = IdToken.objects.get(uid=demo_charger_card(identity, connector))
            assert card.status == "Accepted" and card.operator.slug == "demo"
            assert len(card.uid) <= 20  # an OCPP 1.6 idTag


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
async def test_both_connectors_of_a_demo_charger_charge_at_once(server):
    await sync_to_async(call_command)("load_demo", stdout=open("/dev/null", "w"))
    async with simulated(server, "DEMO-CP-1", DEMO_CHARGER_PASSWORD, id_tag=DEMO_TAG) as charger:
        for connector in (1, 2):
            await charger.start_transaction(connector, charger.config.tag_for(connector))
        assert await eventually(
            lambda: ChargeSession.objects.filter(charge_point__identity="DEMO-CP-1", status="active").count() == 2,
            timeout=10,
        )
        assert {s.id_tag for s in await sync_to_async(list)(ChargeSession.objects.filter(status="active"))} == {
            "CARD-DEMO-CP-1-1",
            "CARD-DEMO-CP-1-2",
        }
