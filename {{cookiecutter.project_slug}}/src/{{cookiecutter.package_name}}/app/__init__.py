"""Your app: the files you edit. The server in ``core/`` calls them and needs nothing else of them.

- ``logic.py``: what happens when clients connect, send and leave;
- ``producer.py``: what is pushed without being asked;
- ``auth.py``: who a client is, decided before the upgrade;
- ``settings.py``: the settings your code reads.

``server.create_app`` is where they are wired in.
"""
