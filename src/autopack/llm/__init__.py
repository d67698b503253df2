"""The LLM room: one ``Provider`` protocol (``types``), one adapter per official SDK, a router (model
name -> provider, policies, fallback, caps) and a service (retries, usage, cost, record/replay).

Importing this package must stay cheap: SDKs are imported inside the adapters only when used.
Import from the modules: this file exports nothing.
"""
