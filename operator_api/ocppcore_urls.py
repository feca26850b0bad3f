"""/API/ routes (OCPP.Core's paths). Included at "API/" after /API/Payments/, which the
payments area owns. A trailing slash is tolerated."""

from django.urls import re_path

from . import ocppcore
from .base import not_found

_ID = r"(?P<charge_point_id>[^/]+)"
_CONNECTOR = r"(?P<connector_id>[^/]+)"
_END = r"/?$"

urlpatterns = [
    re_path(r"^Status" + _END, ocppcore.StatusApi.as_view(), name="ocppcore-status"),
    re_path(rf"^Reset/{_ID}{_END}", ocppcore.ResetApi.as_view(), name="ocppcore-reset"),
    # OCPP.Core's commands all name a charger: without one the request is malformed.
    re_path(r"^Reset/?$", ocppcore.missing_charge_point_id, name="ocppcore-reset-without-id"),
    # An empty value would wipe the setting on the charger: it must be given.
    re_path(
        rf"^ChangeConfiguration/{_ID}/(?P<key>[^/]+)/?$",
        ocppcore.missing_configuration_value,
        name="ocppcore-change-configuration-without-value",
    ),
    re_path(
        rf"^UnlockConnector/{_ID}/{_CONNECTOR}{_END}", ocppcore.UnlockConnectorApi.as_view(), name="ocppcore-unlock"
    ),
    re_path(
        rf"^SetChargingLimit/{_ID}/{_CONNECTOR}/(?P<limit>[^/]+){_END}",
        ocppcore.SetChargingLimitApi.as_view(),
        name="ocppcore-set-limit",
    ),
    re_path(
        rf"^ClearChargingLimit/{_ID}/{_CONNECTOR}{_END}",
        ocppcore.ClearChargingLimitApi.as_view(),
        name="ocppcore-clear-limit",
    ),
    re_path(
        rf"^GetConfiguration/{_ID}{_END}", ocppcore.GetConfigurationApi.as_view(), name="ocppcore-get-configuration"
    ),
    re_path(
        rf"^GetConfiguration/{_ID}/(?P<key>[^/]+){_END}",
        ocppcore.GetConfigurationKeyApi.as_view(),
        name="ocppcore-get-configuration-key",
    ),
    re_path(
        rf"^ChangeConfiguration/{_ID}/(?P<key>[^/]+)/(?P<value>[^/]+){_END}",
        ocppcore.ChangeConfigurationApi.as_view(),
        name="ocppcore-change-configuration",
    ),
    re_path(
        rf"^RemoteStartTransaction/{_ID}/{_CONNECTOR}/(?P<id_tag>[^/]+){_END}",
        ocppcore.RemoteStartTransactionApi.as_view(),
        name="ocppcore-remote-start",
    ),
    re_path(
        rf"^RemoteStopTransaction/{_ID}/{_CONNECTOR}{_END}",
        ocppcore.RemoteStopTransactionApi.as_view(),
        name="ocppcore-remote-stop",
    ),
    # Last: unknown commands and malformed paths get a JSON 404, as OCPP.Core answers 404.
    re_path(r"^[\s\S]*$", not_found),
]
