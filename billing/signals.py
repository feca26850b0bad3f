"""Signals billing sends, so other areas react to pricing without billing knowing them."""

from django.dispatch import Signal

# Sent after commit when the purchase of a finished session has been priced (or re-priced).
# Keyword arguments: purchase_id, session_id. Payments settles pre-authorisations on it.
purchase_priced = Signal()
