"""The simulator's state file: every simulated charger's state (meters, configuration,
open transactions, queued transaction messages) in one JSON file, so that restarting the
simulator process is a reboot of its chargers rather than a factory reset.

The file is replaced atomically (written beside it, then os.replace), so a crash leaves
the previous version whole. `clean_exit` is true only in the version written when the
process stopped on a signal; a file without it means the chargers lost power.

Also the JSON helpers the state classes use: OCPP `call` payloads to and from plain data,
and integer-keyed dicts (JSON keys are strings).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

FORMAT = 1


class StateFileError(ValueError):
    """The file is not a simulator state file this version can read."""


@dataclass
class SavedRun:
    clean_exit: bool = False
    saved_at: str = ""
    chargers: dict[str, dict] = field(default_factory=dict)  # identity -> {"protocol", "state"}


def str_keys(mapping: dict) -> dict:
    return {str(key): value for key, value in mapping.items()}


def int_keys(mapping: dict) -> dict:
    return {int(key): value for key, value in mapping.items()}


def calls_to_json(requests: list) -> list[dict]:
    """Queued `call` objects as [{"action", "payload"}] (snake_case fields, as built)."""
    return [{"action": type(r).__name__, "payload": dataclasses.asdict(r)} for r in requests]


def calls_from_json(items: list[dict], calls: ModuleType) -> list:
    """The `call` objects of `calls` (ocpp.v16.call or ocpp.v201.call) back from calls_to_json."""
    requests = []
    for item in items:
        cls = getattr(calls, item["action"], None)
        if cls is None:
            raise StateFileError(f"unknown queued message {item['action']!r}")
        requests.append(cls(**item["payload"]))
    return requests


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read(path: Path) -> SavedRun | None:
    """The saved run in `path`, or None when there is no file yet."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateFileError(f"cannot read {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise StateFileError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("chargers"), dict):
        raise StateFileError(f"{path} is not a simulator state file (format {FORMAT})")
    return SavedRun(
        clean_exit=data.get("clean_exit") is True, saved_at=data.get("saved_at") or now(), chargers=data["chargers"]
    )


def write(path: Path, chargers: dict[str, dict], *, clean_exit: bool) -> None:
    """Replace `path` with the chargers' states, atomically."""
    data = {"format": FORMAT, "clean_exit": clean_exit, "saved_at": now(), "chargers": chargers}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as out:
        json.dump(data, out, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
