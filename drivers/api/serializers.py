"""Output shapes shared by several driver endpoints (the seed's profile / device / nats)."""

from __future__ import annotations

from rest_framework import serializers

from drivers.api.base import ApiSerializer


def number(**kwargs) -> serializers.DecimalField:
    # The seed's app reads money and coordinates as JSON numbers: Decimal up to the JSON
    # encoder, which writes it as a number.
    return serializers.DecimalField(
        max_digits=20, decimal_places=6, coerce_to_string=False, normalize_output=True, **kwargs
    )


class ProfileSerializer(serializers.Serializer):
    name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField(help_text="E.164")
    balance = number(help_text="Wallet balance")


class DeviceSerializer(serializers.Serializer):
    _id = serializers.CharField(help_text="Charger id")
    deviceNumber = serializers.CharField(help_text="The charger's OCPP identity")
    location = serializers.ListField(child=number(), min_length=2, max_length=2, help_text="[longitude, latitude]")
    price = number(allow_null=True, help_text="Price per kWh, VAT included (null only while it cannot be looked up)")
    waitingPrice = number(
        allow_null=True, help_text="Price per minute of waiting (plugged in, not charging), VAT included"
    )


class DeviceWithStateSerializer(DeviceSerializer):
    state = serializers.ChoiceField(choices=["Idle", "Busy", "Repair", "Error"])


class NatsSerializer(serializers.Serializer):
    """Where the app subscribes to its events: `<topic>.CHARGING`, `.PAYMENT`, `.REPLENISHMENT`."""

    def get_fields(self):
        # "pass" is a Python keyword, so the fields are declared here.
        return {
            "servers": serializers.CharField(help_text="Comma-separated NATS URLs"),
            "topic": serializers.CharField(help_text="Subject prefix of this driver's events"),
            "user": serializers.CharField(),
            "pass": serializers.CharField(),
        }


class LoginSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as 'Authorization: Bearer <token>'")
    profile = ProfileSerializer()
    device = DeviceSerializer(allow_null=True, required=False, help_text="The charger of the active session, if any")
    nats = NatsSerializer(allow_null=True, help_text="null when the server has no NATS")


class InvoiceSerializer(ApiSerializer):
    # Base of the answers built from a payments Invoice: what the invoice does not have (a URL
    # for the wallet, a balance for QPay) is left out, never sent as null. A comment, not a
    # docstring: drf-spectacular would publish a docstring as each answer's description.

    def to_representation(self, instance):
        return {key: value for key, value in super().to_representation(instance).items() if value is not None}
