"""The bare reference: the `ocpp` package + `websockets`, no database, as shipped.

It answers every frame the fleet chargers send (bench/ocpp_load/fleet.py), for OCPP 1.6
and 2.0.1: BootNotification, StatusNotification, Authorize, Start/StopTransaction,
MeterValues, TransactionEvent and Heartbeat, each with the answer a CSMS would give
(Accepted, a transaction id), and nothing stored. The Basic-auth header is ignored.
"""

import asyncio
import itertools
import sys
from datetime import UTC, datetime

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201

_transaction_ids = itertools.count(1)


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Reference16(ChargePoint16):
    @on(Action16.boot_notification)
    def on_boot_notification(self, **kwargs):
        return result16.BootNotification(current_time=_now(), interval=300, status="Accepted")

    @on(Action16.status_notification)
    def on_status_notification(self, **kwargs):
        return result16.StatusNotification()

    @on(Action16.authorize)
    def on_authorize(self, id_tag, **kwargs):
        return result16.Authorize(id_tag_info={"status": "Accepted"})

    @on(Action16.start_transaction)
    def on_start_transaction(self, **kwargs):
        return result16.StartTransaction(transaction_id=next(_transaction_ids), id_tag_info={"status": "Accepted"})

    @on(Action16.stop_transaction)
    def on_stop_transaction(self, **kwargs):
        return result16.StopTransaction(id_tag_info={"status": "Accepted"})

    @on(Action16.meter_values)
    def on_meter_values(self, connector_id, meter_value, **kwargs):
        return result16.MeterValues()

    @on(Action16.heartbeat)
    def on_heartbeat(self, **kwargs):
        return result16.Heartbeat(current_time=_now())


class Reference201(ChargePoint201):
    @on(Action201.boot_notification)
    def on_boot_notification(self, **kwargs):
        return result201.BootNotification(current_time=_now(), interval=300, status="Accepted")

    @on(Action201.status_notification)
    def on_status_notification(self, **kwargs):
        return result201.StatusNotification()

    @on(Action201.authorize)
    def on_authorize(self, id_token, **kwargs):
        return result201.Authorize(id_token_info={"status": "Accepted"})

    @on(Action201.transaction_event)
    def on_transaction_event(self, event_type, **kwargs):
        if event_type == "Updated":
            return result201.TransactionEvent()
        return result201.TransactionEvent(id_token_info={"status": "Accepted"})

    @on(Action201.heartbeat)
    def on_heartbeat(self, **kwargs):
        return result201.Heartbeat(current_time=_now())


async def handler(ws):
    cls = Reference201 if ws.subprotocol == "ocpp2.0.1" else Reference16
    await cls(ws.request.path.rsplit("/", 1)[-1], ws).start()


async def main(port: int):
    async with websockets.serve(
        handler,
        "127.0.0.1",
        port,
        subprotocols=["ocpp1.6", "ocpp2.0.1"],
        ping_interval=None,
        max_queue=None,
        backlog=1024,
    ):
        await asyncio.Future()


if __name__ == "__main__":
    import logging

    logging.getLogger("ocpp").setLevel(logging.WARNING)
    asyncio.run(main(int(sys.argv[1])))
