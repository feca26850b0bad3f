"""What one charger of a real fleet sends, for the load generator (load.py).

A fleet charger authenticates with HTTP Basic (identity and password, see password()),
speaks OCPP 1.6 (four in five) or 2.0.1 (every fifth, see protocol_of()), and after
connecting sends BootNotification, a StatusNotification per connector, Authorize and
StartTransaction (1.6) / TransactionEvent Started (2.0.1). While measured it sends the
frames a charging session sends: MeterValues with the transactionId and 7 sampled values
(1.6) or TransactionEvent Updated with the same 7 values (2.0.1), a Heartbeat every
`heartbeat` seconds, and every `session_seconds` a stop (StopTransaction / TransactionEvent
Ended) followed by Authorize and a new start. The load generator (load.py) decides when.

Every frame's answer is awaited before the next is sent (OCPP allows one CALL at a time).
A CALL from the server arriving meanwhile is answered with a generic result, so the
charger never mistakes it for its own answer.
"""

from __future__ import annotations

import base64
import itertools
import json
import random
import time
import uuid

V16, V201 = "ocpp1.6", "ocpp2.0.1"
CONNECTORS = 1

SAMPLE_V16 = [
    {
        "value": "123456",
        "context": "Sample.Periodic",
        "measurand": "Energy.Active.Import.Register",
        "location": "Outlet",
        "unit": "Wh",
    },
    {"value": "10950.3", "context": "Sample.Periodic", "measurand": "Power.Active.Import", "unit": "W"},
    {"value": "15.8", "context": "Sample.Periodic", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
    {"value": "15.8", "context": "Sample.Periodic", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
    {"value": "15.8", "context": "Sample.Periodic", "measurand": "Current.Import", "phase": "L3", "unit": "A"},
    {"value": "230.1", "context": "Sample.Periodic", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
    {"value": "57", "context": "Sample.Periodic", "measurand": "SoC", "location": "EV", "unit": "Percent"},
]


def password(index: int) -> str:
    """The bench's password of charger `index` (run.py stores its hash; 16-40 characters)."""
    return f"bench-password-{index:08d}"


def id_tag(index: int) -> str:
    """Each charger charges one driver's card (run.py creates them as accepted IdTokens)."""
    return f"BENCHTAG{index:08d}"


def protocol_of(index: int) -> str:
    """80% OCPP 1.6, 20% 2.0.1."""
    return V201 if index % 5 == 0 else V16


def basic_auth_header(identity: str, secret: str) -> tuple[str, str]:
    token = base64.b64encode(f"{identity}:{secret}".encode()).decode()
    return "Authorization", f"Basic {token}"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _now_precise() -> str:
    # 1.6 StartTransaction needs a timestamp unique per connector (a retried start with the
    # same time is the same session), and stops and starts may fall in the same second.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"


class Charger:
    """One charger's protocol state; `call()` sends a CALL and returns its answer."""

    protocol = V16

    def __init__(self, ws, index: int) -> None:
        self.ws = ws
        self.index = index
        self.ids = itertools.count(1)
        self.meter_wh = 1000 + index
        self.in_transaction = False

    async def call(self, action: str, payload: dict) -> dict:
        unique_id = f"{next(self.ids)}"
        await self.ws.send(json.dumps([2, unique_id, action, payload]))
        while True:
            message = json.loads(await self.ws.recv())
            if message[0] == 2:  # a command from the server: answered, then keep waiting
                await self.ws.send(json.dumps([3, message[1], {"status": "Accepted"}]))
                continue
            if message[1] != unique_id:
                continue
            if message[0] == 4:
                raise RuntimeError(f"{action} answered CALLERROR {message[2:4]}")
            return message[2]

    def _advance_meter(self) -> int:
        self.meter_wh += random.randint(20, 60)
        return self.meter_wh

    # --- what every charger does, by version ----------------------------------------------

    async def admit(self) -> None:
        """Boot, report each connector, authorise and start: the connect storm's work."""
        raise NotImplementedError

    async def heartbeat(self) -> None:
        await self.call("Heartbeat", {})

    async def sample(self) -> None:
        raise NotImplementedError

    async def restart_session(self) -> None:
        raise NotImplementedError


class Charger16(Charger):
    protocol = V16

    async def admit(self) -> None:
        answer = await self.call(
            "BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "Fleet-16", "firmwareVersion": "1.0"}
        )
        if answer.get("status") != "Accepted":
            raise RuntimeError(f"BootNotification answered {answer}")
        for connector in range(0, CONNECTORS + 1):
            await self.call(
                "StatusNotification",
                {"connectorId": connector, "errorCode": "NoError", "status": "Available", "timestamp": _now()},
            )
        await self.start()

    async def start(self) -> None:
        answer = await self.call("Authorize", {"idTag": id_tag(self.index)})
        if answer["idTagInfo"]["status"] != "Accepted":
            raise RuntimeError(f"Authorize answered {answer}")
        answer = await self.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": id_tag(self.index), "meterStart": self.meter_wh, "timestamp": _now_precise()},
        )
        self.transaction_id = answer["transactionId"]
        self.in_transaction = True

    async def sample(self) -> None:
        values = [dict(v) for v in SAMPLE_V16]
        values[0]["value"] = str(self._advance_meter())
        await self.call(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": self.transaction_id,
                "meterValue": [{"timestamp": _now_precise(), "sampledValue": values}],
            },
        )

    async def restart_session(self) -> None:
        await self.call(
            "StopTransaction",
            {
                "transactionId": self.transaction_id,
                "meterStop": self._advance_meter(),
                "timestamp": _now_precise(),
                "idTag": id_tag(self.index),
                "reason": "Local",
            },
        )
        self.in_transaction = False
        await self.start()


def _sampled_values_v201(meter_wh: int) -> list[dict]:
    """The same 7 values as SAMPLE_V16, in 2.0.1's shape (numbers, unitOfMeasure)."""
    values = []
    for sample in SAMPLE_V16:
        value = {
            "value": float(meter_wh if sample["measurand"].startswith("Energy") else sample["value"]),
            "context": sample["context"],
            "measurand": sample["measurand"],
            "unitOfMeasure": {"unit": sample["unit"]},
        }
        for key in ("phase", "location"):
            if key in sample:
                value[key] = sample[key]
        values.append(value)
    return values


class Charger201(Charger):
    protocol = V201

    async def admit(self) -> None:
        answer = await self.call(
            "BootNotification",
            {"chargingStation": {"vendorName": "Bench", "model": "Fleet-201"}, "reason": "PowerUp"},
        )
        if answer.get("status") != "Accepted":
            raise RuntimeError(f"BootNotification answered {answer}")
        for connector in range(1, CONNECTORS + 1):
            await self.call(
                "StatusNotification",
                {"timestamp": _now(), "connectorStatus": "Available", "evseId": connector, "connectorId": 1},
            )
        await self.start()

    def _token(self) -> dict:
        return {"idToken": id_tag(self.index), "type": "ISO14443"}

    async def _event(self, event_type: str, trigger: str, state: str, **extra) -> dict:
        payload = {
            "eventType": event_type,
            "timestamp": _now_precise(),
            "triggerReason": trigger,
            "seqNo": self.seq_no,
            "transactionInfo": {"transactionId": self.transaction_id, "chargingState": state, **extra},
            "evse": {"id": 1, "connectorId": 1},
            "meterValue": [{"timestamp": _now_precise(), "sampledValue": _sampled_values_v201(self._advance_meter())}],
        }
        if event_type != "Updated":
            payload["idToken"] = self._token()
        self.seq_no += 1
        return await self.call("TransactionEvent", payload)

    async def start(self) -> None:
        answer = await self.call("Authorize", {"idToken": self._token()})
        if answer["idTokenInfo"]["status"] != "Accepted":
            raise RuntimeError(f"Authorize answered {answer}")
        self.transaction_id = uuid.uuid4().hex[:36]
        self.seq_no = 0
        await self._event("Started", "Authorized", "Charging")
        self.in_transaction = True

    async def sample(self) -> None:
        await self._event("Updated", "MeterValuePeriodic", "Charging")

    async def restart_session(self) -> None:
        await self._event("Ended", "StopAuthorized", "EVConnected", stoppedReason="Local")
        self.in_transaction = False
        await self.start()


def charger_for(ws, index: int) -> Charger:
    return (Charger201 if protocol_of(index) == V201 else Charger16)(ws, index)
