"""Which drivers an operator may see: a rule of the apps above this one (drivers are shared
by all operators; an operator's are those who charged at its chargers or hold its cards).
sessions_app registers it when it loads (sessions_app.apps), so accounts (the admin's
user list) asks without importing upwards."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import QuerySet

_drivers_of_operator: Callable[..., QuerySet] | None = None


def register_drivers_of_operator(rule: Callable[..., QuerySet]) -> None:
    global _drivers_of_operator
    _drivers_of_operator = rule


def drivers_of_operator(*, operator_id: int) -> QuerySet:
    if _drivers_of_operator is None:
        raise RuntimeError("No rule for an operator's drivers is registered (sessions_app not installed?)")
    return _drivers_of_operator(operator_id=operator_id)
