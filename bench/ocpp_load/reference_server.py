"""The bare reference: the `ocpp` package + `websockets`, no database, as shipped."""

import asyncio
import sys
from datetime import UTC, datetime

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action


class Reference(ChargePoint):
    @on(Action.meter_values)
    def on_meter_values(self, connector_id, meter_value, **kwargs):
        return call_result.MeterValues()

    @on(Action.heartbeat)
    def on_heartbeat(self, **kwargs):
        return call_result.Heartbeat(current_time=datetime.now(UTC).isoformat())


async def handler(ws):
    await Reference(ws.request.path.rsplit("/", 1)[-1], ws).start()


async def main(port: int):
    async with websockets.serve(
        handler, "127.0.0.1", port, subprotocols=["ocpp1.6"], ping_interval=None, max_queue=None
    ):
        await asyncio.Future()


if __name__ == "__main__":
    import logging

    logging.getLogger("ocpp").setLevel(logging.WARNING)
    asyncio.run(main(int(sys.argv[1])))
