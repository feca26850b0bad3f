#!/usr/bin/env python3
"""One entry point for a fresh machine with only Python 3.11+.

    python3 dev.py run     # venv, install, migrate, demo data; web + worker + beat + simulated chargers
    python3 dev.py test    # venv, install (with test tools), run the whole test suite
    python3 dev.py lint    # ruff (lint + format check) and import-linter's layer contracts

Both are idempotent: the virtual environment is reused and only reinstalled when the
requirement files change; migrations and demo data are applied only where missing.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("CSMS_VENV", ROOT / ".venv"))
VENV_PYTHON = VENV / "bin" / "python"


def _say(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def _requirements_digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_environment(*, with_tests: bool) -> None:
    """Create the venv and install the pinned requirements when they changed."""
    if not VENV_PYTHON.exists():
        _say(f"creating virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    requirement_file = ROOT / ("requirements-test.txt" if with_tests else "requirements.txt")
    files = [ROOT / "requirements.txt"] + ([ROOT / "requirements-test.txt"] if with_tests else [])
    stamp = VENV / f".installed-{requirement_file.name}"
    digest = _requirements_digest(files)
    if stamp.exists() and stamp.read_text() == digest:
        return
    # The test install covers the run's requirements too: `run` after `test` installs nothing.
    test_stamp = VENV / ".installed-requirements-test.txt"
    test_files = [ROOT / "requirements.txt", ROOT / "requirements-test.txt"]
    if not with_tests and test_stamp.exists() and test_stamp.read_text() == _requirements_digest(test_files):
        return
    _say(f"installing {requirement_file.name} (first run takes a minute)")
    subprocess.run([str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "-r", str(requirement_file)], check=True)
    stamp.write_text(digest)


def _in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def _reexec_in_venv() -> None:
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])


def _manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, env=env, cwd=ROOT)


def _ensure_embedded_redis_if_needed() -> Path | None:
    """Start the embedded Redis unless REDIS_URL names one; its socket when this call
    started it (the caller stops what it started), else None."""
    sys.path.insert(0, str(ROOT))
    if os.environ.get("REDIS_URL"):
        return None
    from config.embedded_redis import ensure_running

    socket_path = Path(os.environ.get("VAR_DIR", ROOT / "var")) / "redis.sock"
    started = ensure_running(socket_path)
    _say(f"embedded Redis answering on {socket_path}")
    return socket_path if started else None


def run_environment(environ: dict[str, str]) -> dict[str, str]:
    """The run command's environment: dev settings, and payment return/callback URLs on the
    address the server really listens on (HOST/PORT) unless PAYMENTS_PUBLIC_BASE_URL is set."""
    host, port = environ.get("HOST", "127.0.0.1"), environ.get("PORT", "8000")
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "PAYMENTS_PUBLIC_BASE_URL": f"http://{host}:{port}",
        **environ,
    }


def command_run() -> int:
    env = run_environment(dict(os.environ))
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    chargers = os.environ.get("SIMULATED_CHARGERS", "3")
    started_redis = _ensure_embedded_redis_if_needed()
    _say("applying migrations")
    _manage("migrate", "--noinput", "-v", "0", env=env)
    _say("loading demo data")
    _manage("load_demo", env=env)

    bin_dir = VENV / "bin"
    processes: list[tuple[str, subprocess.Popen]] = []

    def start(name: str, argv: list[str]) -> None:
        processes.append((name, subprocess.Popen(argv, env=env, cwd=ROOT)))

    start("web", [str(bin_dir / "daphne"), "-b", host, "-p", port, "config.asgi:application"])
    start("worker", [str(bin_dir / "celery"), "-A", "config", "worker", "-l", "info", "--concurrency", "2"])
    start("beat", [str(bin_dir / "celery"), "-A", "config", "beat", "-l", "info"])
    if int(chargers) > 0:
        time.sleep(2)  # let daphne bind before the chargers knock
        simulate = [
            sys.executable,
            str(ROOT / "manage.py"),
            "simulate_chargers",
            "--url",
            f"ws://{host}:{port}/ocpp/",
            "--password",
            "demo-charger-password",
            "--id-tag",
            "CARD-{identity}-{connector}",  # a card per connector (load_demo creates them)
            "--rfid-every",
            "90",
            "--meter-interval",
            "10",
        ]
        # A state file per simulator process: the demo chargers keep their meters and
        # sessions across a restart, which ends those sessions as a reboot would.
        var = Path(os.environ.get("VAR_DIR", ROOT / "var"))
        var.mkdir(parents=True, exist_ok=True)
        start(
            "chargers-1.6",
            [*simulate, "--count", chargers, "--protocol", "ocpp1.6", "--prefix", "DEMO-CP-"]
            + ["--state-file", str(var / "simulator-ocpp1.6.json")],
        )
        start(
            "chargers-2.0.1",
            [*simulate, "--count", "1", "--protocol", "ocpp2.0.1", "--prefix", "DEMO-201-"]
            + ["--state-file", str(var / "simulator-ocpp2.0.1.json")],
        )

    base = f"http://{host}:{port}"
    print(
        "\n"
        f"  Operator portal   {base}/\n"
        f"  Django admin      {base}/admin/          login: operator / demo-operator-password\n"
        f"  Driver API        {base}/api/v1/          demo driver phone: +31612345678 (OTP code in the web log)\n"
        f"  HA API tokens     {base}/haserver/tokens/ the same phone and code\n"
        f"  API docs          {base}/api/docs/\n"
        f"  Health            {base}/health\n"
        f"  OCPP endpoint     ws://{host}:{port}/ocpp/<charge point id>   (ocpp1.6 / ocpp2.0.1)\n"
        f"  Operator API key  printed above by load_demo (X-API-Key)\n"
        "\n  Ctrl-C stops everything.\n",
        flush=True,
    )

    def stop(*_):
        for _, proc in processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc in processes:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if started_redis is not None:  # stop what this run started, nothing else
            from config.embedded_redis import stop as stop_redis

            stop_redis(started_redis)
            _say("embedded Redis stopped")

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    try:
        while True:
            for name, proc in processes:
                if proc.poll() is not None:
                    _say(f"{name} exited with {proc.returncode}; stopping the rest")
                    stop()
                    return proc.returncode or 1
            time.sleep(1)
    except KeyboardInterrupt:
        stop()
        return 0


def command_test(args: list[str]) -> int:
    _ensure_embedded_redis_if_needed()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    # In parallel (pytest-xdist), one test file per worker at a time so a file's module
    # fixtures (e.g. its own server) start once; TEST_WORKERS=0 runs in one process.
    workers = os.environ.get("TEST_WORKERS", "2")
    parallel = (
        []
        if workers == "0" or any(a == "-n" or a.startswith("-n") for a in args)
        else ["-n", workers, "--dist", "loadfile"]
    )
    return subprocess.run([sys.executable, "-m", "pytest", *parallel, *args], env=env, cwd=ROOT).returncode


def command_lint() -> int:
    bin_dir = Path(sys.executable).parent
    checks = [
        [str(bin_dir / "ruff"), "check", "."],
        [str(bin_dir / "ruff"), "format", "--check", "."],
        [str(bin_dir / "lint-imports")],
    ]
    failed = 0
    for argv in checks:
        _say(" ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv)))
        failed += subprocess.run(argv, cwd=ROOT).returncode != 0
    return 1 if failed else 0


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"run", "test", "lint"}:
        print(__doc__)
        return 2
    command = sys.argv[1]
    if not _in_venv():
        ensure_environment(with_tests=command in {"test", "lint"})
        _reexec_in_venv()
    if command == "run":
        return command_run()
    if command == "lint":
        return command_lint()
    return command_test(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
