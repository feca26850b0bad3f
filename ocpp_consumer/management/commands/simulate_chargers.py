"""Run simulated chargers against a CSMS: `manage.py simulate_chargers --count 3`.

With `--state-file PATH` the chargers' states (meters, configuration, open transactions,
queued transaction messages) are kept in PATH, so a restart of this command reboots the
chargers instead of replacing them with new ones."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ocpp_consumer.simulator import SIMULATORS
from ocpp_consumer.simulator.persist import StateFileError
from ocpp_consumer.simulator.runner import ChargerConfig, StateKeeper, run_chargers


class Command(BaseCommand):
    help = "Run simulated OCPP chargers (boot, heartbeats, status, RFID and remote sessions, every command)."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=3)
        parser.add_argument("--protocol", default="ocpp1.6", choices=sorted(SIMULATORS))
        parser.add_argument("--url", default="ws://127.0.0.1:8000/ocpp/", help="Base URL; the identity is appended")
        parser.add_argument("--password", default=None, help="Basic-auth password of every simulated charger")
        parser.add_argument("--prefix", default="SIM-CP-", help="Identity prefix: <prefix>1 .. <prefix>N")
        parser.add_argument("--connectors", type=int, default=2)
        parser.add_argument(
            "--meter-interval", type=float, default=10.0, help="Seconds between MeterValues while charging"
        )
        parser.add_argument(
            "--power", type=int, default=11_000, help="Charging power in W (charging profiles lower it)"
        )
        parser.add_argument(
            "--rfid-every",
            type=float,
            default=300.0,
            help="Mean seconds between RFID-started sessions per charger (0 = only remote starts)",
        )
        parser.add_argument(
            "--id-tag",
            default="SIM-RFID-0001",
            help='The RFID card the chargers present; "{identity}" and "{connector}" are filled in '
            '(e.g. "CARD-{identity}-{connector}": a card per connector)',
        )
        parser.add_argument(
            "--state-file",
            type=Path,
            default=None,
            help="JSON file keeping the chargers' states across restarts (read at start, written while running)",
        )

    def handle(self, *args, **options):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        configs = [
            ChargerConfig(
                identity=f"{options['prefix']}{n}",
                base_url=options["url"],
                password=options["password"],
                protocol=options["protocol"],
                connectors=options["connectors"],
                power_w=options["power"],
                meter_interval=options["meter_interval"],
                rfid_every=options["rfid_every"],
                id_tag=options["id_tag"],
            )
            for n in range(1, options["count"] + 1)
        ]
        keeper = self._keeper(options["state_file"], configs)
        self.stdout.write(
            f"Simulating {len(configs)} {options['protocol']} chargers at {options['url']} "
            f"({configs[0].identity if configs else ''} ..)"
        )
        asyncio.run(self._run(configs, keeper))

    def _keeper(self, path: Path | None, configs: list[ChargerConfig]) -> StateKeeper | None:
        if path is None:
            return None
        if not path.parent.is_dir():
            raise CommandError(f"--state-file: the folder {path.parent} does not exist")
        try:
            return StateKeeper(path, configs)
        except StateFileError as exc:
            raise CommandError(f"--state-file: {exc}") from exc

    async def _run(self, configs: list[ChargerConfig], keeper: StateKeeper | None) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_chargers(configs, stop, keeper)
