"""A Blue Current-compatible WebSocket API at /haserver.

The unmodified `bluecurrent-api` package (used by Home Assistant) talks to this server when
its module constant `bluecurrent_api.websocket.URL` points here. The package's source is the
contract: every frame we send has the object names and keys its handlers read.
"""
