"""The real Blue Current client on a long connection, and matching its frames."""

from __future__ import annotations

import asyncio

from bluecurrent_api import Client


class Live:
    """The real client on a long connection, its received messages in a queue."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.messages: asyncio.Queue = asyncio.Queue()
        self.seen: list[dict] = []
        self.opened = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def receiver(self, message: dict) -> None:
        self.seen.append(message)
        await self.messages.put(message)

    async def on_open(self) -> None:
        self.opened.set()

    async def start(self) -> None:
        self.task = asyncio.create_task(self.client.connect(self.receiver, self.on_open))
        done, _ = await asyncio.wait(
            [self.task, asyncio.create_task(self.opened.wait())], timeout=10, return_when=asyncio.FIRST_COMPLETED
        )
        if self.task in done:
            self.task.result()  # raises what the client raised

    async def next(self, predicate=lambda m: True, timeout: float = 10.0) -> dict:
        async def wait() -> dict:
            while True:
                message = await self.messages.get()
                if predicate(message):
                    return message

        getter = asyncio.create_task(wait())
        done, _ = await asyncio.wait([getter, self.task], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()
        if self.task in done:
            self.task.result()
            raise AssertionError("the client's loop ended")
        raise AssertionError(f"no matching message in {timeout}s; seen {[m.get('object') for m in self.seen]}")

    async def stop(self) -> None:
        if self.task and not self.task.done():
            try:
                await self.client.disconnect()
            except Exception:
                pass
            try:
                await asyncio.wait_for(self.task, 5)
            except Exception:
                pass


def by_object(name: str):
    return lambda message: message.get("object") == name
