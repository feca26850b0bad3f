"""/api/operator/ routes: one URL per operation."""

from django.urls import path, re_path

from . import activity, commands, holds, limits, load, local_lists, pricing, reservations, sites, statistics
from .base import not_found

_CP = "charge-points/<str:identity>"

urlpatterns = [
    path("sites/", sites.SiteListApi.as_view(), name="operator-sites"),
    path("sites/create/", sites.SiteCreateApi.as_view(), name="operator-site-create"),
    path("sites/<id:site_id>/", sites.SiteDetailApi.as_view(), name="operator-site"),
    path("sites/<id:site_id>/update/", sites.SiteUpdateApi.as_view(), name="operator-site-update"),
    path("sites/<id:site_id>/delete/", sites.SiteDeleteApi.as_view(), name="operator-site-delete"),
    path("sites/<id:site_id>/load/", load.SiteLoadApi.as_view(), name="operator-site-load"),
    path("sites/<id:site_id>/load/update/", load.SiteLoadUpdateApi.as_view(), name="operator-site-load-update"),
    path("charge-points/", sites.ChargePointListApi.as_view(), name="operator-charge-points"),
    path("charge-points/create/", sites.ChargePointCreateApi.as_view(), name="operator-charge-point-create"),
    path("charge-points/export/", sites.ChargePointExportApi.as_view(), name="operator-charge-points-export"),
    path(f"{_CP}/", sites.ChargePointDetailApi.as_view(), name="operator-charge-point"),
    path(f"{_CP}/update/", sites.ChargePointUpdateApi.as_view(), name="operator-charge-point-update"),
    path(f"{_CP}/delete/", sites.ChargePointDeleteApi.as_view(), name="operator-charge-point-delete"),
    path(f"{_CP}/connectors/", sites.ConnectorListApi.as_view(), name="operator-connectors"),
    path(f"{_CP}/connectors/create/", sites.ConnectorCreateApi.as_view(), name="operator-connector-create"),
    path(f"{_CP}/connectors/<id:connector_id>/", sites.ConnectorDetailApi.as_view(), name="operator-connector"),
    path(
        f"{_CP}/connectors/<id:connector_id>/update/",
        sites.ConnectorUpdateApi.as_view(),
        name="operator-connector-update",
    ),
    path(
        f"{_CP}/connectors/<id:connector_id>/delete/",
        sites.ConnectorDeleteApi.as_view(),
        name="operator-connector-delete",
    ),
    path(f"{_CP}/journal/", activity.JournalApi.as_view(), name="operator-journal"),
    path(f"{_CP}/charging-limits/", limits.ChargingLimitListApi.as_view(), name="operator-charging-limits"),
    path(
        f"{_CP}/charging-limits/<id:limit_id>/clear/",
        limits.ChargingLimitClearApi.as_view(),
        name="operator-charging-limit-clear",
    ),
    path(f"{_CP}/status-history/", activity.StatusHistoryApi.as_view(), name="operator-status-history"),
    path(f"{_CP}/local-list/", local_lists.LocalListDetailApi.as_view(), name="operator-local-list"),
    path(f"{_CP}/local-list/version/", local_lists.LocalListVersionApi.as_view(), name="operator-local-list-version"),
    path(f"{_CP}/local-list/sync/", local_lists.LocalListSyncApi.as_view(), name="operator-local-list-sync"),
    path("local-lists/sync/", local_lists.LocalListSyncAllApi.as_view(), name="operator-local-lists-sync"),
    path("id-tokens/", pricing.IdTokenListApi.as_view(), name="operator-id-tokens"),
    path("id-tokens/create/", pricing.IdTokenCreateApi.as_view(), name="operator-id-token-create"),
    path("id-tokens/export/", pricing.IdTokenExportApi.as_view(), name="operator-id-tokens-export"),
    path("id-tokens/<id:token_id>/", pricing.IdTokenDetailApi.as_view(), name="operator-id-token"),
    path("id-tokens/<id:token_id>/update/", pricing.IdTokenUpdateApi.as_view(), name="operator-id-token-update"),
    path("id-tokens/<id:token_id>/delete/", pricing.IdTokenDeleteApi.as_view(), name="operator-id-token-delete"),
    path("tariffs/", pricing.TariffListApi.as_view(), name="operator-tariffs"),
    path("tariffs/create/", pricing.TariffCreateApi.as_view(), name="operator-tariff-create"),
    path("tariffs/<id:tariff_id>/", pricing.TariffDetailApi.as_view(), name="operator-tariff"),
    path("tariffs/<id:tariff_id>/update/", pricing.TariffUpdateApi.as_view(), name="operator-tariff-update"),
    path("tariffs/<id:tariff_id>/delete/", pricing.TariffDeleteApi.as_view(), name="operator-tariff-delete"),
    path("tariff-assignments/", pricing.TariffAssignmentListApi.as_view(), name="operator-tariff-assignments"),
    path(
        "tariff-assignments/create/",
        pricing.TariffAssignmentCreateApi.as_view(),
        name="operator-tariff-assignment-create",
    ),
    path(
        "tariff-assignments/<id:assignment_id>/delete/",
        pricing.TariffAssignmentDeleteApi.as_view(),
        name="operator-tariff-assignment-delete",
    ),
    path("electricity-prices/", pricing.ElectricityPriceListApi.as_view(), name="operator-prices"),
    path("electricity-prices/create/", pricing.ElectricityPriceCreateApi.as_view(), name="operator-price-create"),
    path("electricity-prices/import/", pricing.ElectricityPriceImportApi.as_view(), name="operator-price-import"),
    path(
        "electricity-prices/<id:price_id>/update/",
        pricing.ElectricityPriceUpdateApi.as_view(),
        name="operator-price-update",
    ),
    path(
        "electricity-prices/<id:price_id>/delete/",
        pricing.ElectricityPriceDeleteApi.as_view(),
        name="operator-price-delete",
    ),
    path("sessions/", activity.SessionListApi.as_view(), name="operator-sessions"),
    path("sessions/export/", activity.SessionExportApi.as_view(), name="operator-sessions-export"),
    path("sessions/<id:session_id>/", activity.SessionDetailApi.as_view(), name="operator-session"),
    path(
        "sessions/<id:session_id>/meter-values/",
        activity.SessionMeterValuesApi.as_view(),
        name="operator-session-meter-values",
    ),
    path(
        "sessions/<id:session_id>/charging-curve/",
        activity.SessionChargingCurveApi.as_view(),
        name="operator-session-charging-curve",
    ),
    path("purchases/", activity.PurchaseListApi.as_view(), name="operator-purchases"),
    path("purchases/export/", activity.PurchaseExportApi.as_view(), name="operator-purchases-export"),
    path("purchases/<id:purchase_id>/", activity.PurchaseDetailApi.as_view(), name="operator-purchase"),
    path("payment-holds/", holds.PaymentHoldListApi.as_view(), name="operator-payment-holds"),
    path("payment-holds/export/", holds.PaymentHoldExportApi.as_view(), name="operator-payment-holds-export"),
    path("payment-holds/<uuid:hold_id>/", holds.PaymentHoldDetailApi.as_view(), name="operator-payment-hold"),
    path("reservations/", reservations.ConnectorReservationListApi.as_view(), name="operator-reservations"),
    path(
        "reservations/create/",
        reservations.ConnectorReservationCreateApi.as_view(),
        name="operator-reservation-create",
    ),
    path(
        "reservations/<id:reservation_id>/",
        reservations.ConnectorReservationDetailApi.as_view(),
        name="operator-reservation",
    ),
    path(
        "reservations/<id:reservation_id>/cancel/",
        reservations.ConnectorReservationCancelApi.as_view(),
        name="operator-reservation-cancel",
    ),
    path("statistics/energy-per-day/", statistics.EnergyPerDayApi.as_view(), name="operator-stats-energy"),
    path("statistics/revenue-per-day/", statistics.RevenuePerDayApi.as_view(), name="operator-stats-revenue"),
    path("statistics/utilisation/", statistics.UtilisationApi.as_view(), name="operator-stats-utilisation"),
]

for _version, (_, _actions) in commands.VERSIONS.items():
    urlpatterns += [
        path(
            f"{_CP}/commands/{_version}/{action}/",
            commands.ChargerCommandApi.as_view(ocpp_version=_version, action_name=action),
            name=f"operator-command-{_version}-{action}",
        )
        for action in _actions
    ]

# Last: anything else under /api/operator/ is a JSON 404.
urlpatterns.append(re_path(r"^[\s\S]*$", not_found))
