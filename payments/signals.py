"""Signals payments sends, so its services never import its tasks (no import cycle)."""

from django.dispatch import Signal

# Sent after commit when a decision on the sandbox pay page changed an invoice. Keyword
# arguments: reference (the invoice's uuid as text), event_id (idempotency key of the
# notification). The receiver queues the sandbox "provider" notification.
sandbox_invoice_decided = Signal()
