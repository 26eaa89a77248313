"""The work behind the HTTP routes and the web console: matching, demands, patents, chains, admin.

Routers (api/routers/) and the console (api/ui/) translate requests into calls here and
results into schemas; they hold no rules of their own. Services talk to the engine only
through the Protocols in ``api.services.contracts``, which the real engine (api/live.py)
and the test fakes (tests/api/fakes.py) both satisfy (tests/api/test_contracts.py).
"""
