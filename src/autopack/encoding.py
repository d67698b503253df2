"""UTF-8 hardening: the seed's "pre-emptive encoding fix".

At startup stdout/stderr are switched to UTF-8 with replacement (never raising on a LANG=C
terminal). Every subprocess autopack starts gets ``PYTHONUTF8=1`` through ``childenv.subprocess_env``.
"""

from __future__ import annotations

import sys


def harden_stdio() -> None:
    """Reconfigure stdout and stderr to UTF-8, replacing what cannot be encoded."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(encoding="utf-8", errors="replace")
            except (ValueError, OSError):  # a closed or detached stream: nothing to fix
                pass
