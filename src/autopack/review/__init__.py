"""Reviewing a run after it ran: its change (``diff``), landing it (``merge``), and removing what it
left behind (``clean``), plus the stale marks ``autopack runs`` shows.

Everything here reads the run store and the project's git repository; only ``merge`` changes the
user's branch, and only ``clean`` deletes. The HTML report lives in ``autopack.report``.
"""
