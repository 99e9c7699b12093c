"""The server's machinery: handshake, connections, frames, limits, proxies, running.

Your code does not need to touch it: it sees the machinery through ``api.py``
and is wired in by ``server.create_app``. No module here imports ``app/``.
"""
