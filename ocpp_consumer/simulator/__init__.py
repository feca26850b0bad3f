"""Simulated chargers built on the `ocpp` package, one class per protocol version.

`SIMULATORS` maps a subprotocol to its ChargePoint class; an OCPP 2.0.1 simulator adds
itself there next to the 1.6 one. `runner.run_charger()` connects, runs and reconnects
any of them.
"""

from ocpp_consumer.simulator.v16 import SimulatedChargePoint16
from ocpp_consumer.simulator.v201 import SimulatedChargePoint201

SIMULATORS: dict[str, type] = {"ocpp1.6": SimulatedChargePoint16, "ocpp2.0.1": SimulatedChargePoint201}
