"""Print a nats-server `authorization` block with every driver's NATS credentials.

Each driver may subscribe only to its own subject tree and publish nothing; the server's
own publisher account is added when NATS_URL carries credentials. Regenerate (and reload
nats-server) when drivers sign up, or serve the same derivation from an auth callout.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.models import User
from drivers.events import driver_topic
from drivers.nats import nats_password, nats_user


class Command(BaseCommand):
    help = "Print the nats-server authorization block for the drivers' event subjects."

    def handle(self, *args, **options):
        users = []
        parts = urlsplit(settings.NATS_URL.split(",")[0]) if settings.NATS_URL else None
        if parts and parts.username:
            users.append(f"    {{user: {json.dumps(parts.username)}, password: {json.dumps(parts.password or '')}}}")
        else:
            # With an authorization block, a server without our own account refuses our
            # publisher: say so instead of leaving it out silently.
            self.stderr.write(
                "warning: NATS_URL carries no user and password, so the block has no account for this "
                "server's own publisher; set NATS_URL=nats://user:password@host:4222 and run this again."
            )
        for user_id in User.objects.filter(phone__isnull=False, is_staff=False, is_active=True).values_list(
            "pk", flat=True
        ):
            users.append(
                f"    {{user: {json.dumps(nats_user(user_id))}, password: {json.dumps(nats_password(user_id))}, "
                f'permissions: {{publish: {{deny: ">"}}, subscribe: {{allow: [{json.dumps(driver_topic(user_id) + ".>")}]}}}}}}'
            )
        self.stdout.write("authorization {\n  users = [\n" + ",\n".join(users) + "\n  ]\n}\n")
