"""UTF-8 hardening: the seed's "pre-emptive encoding fix".

At startup stdout/stderr are switched to UTF-8 with replacement (never raising on a LANG=C
terminal), and every subprocess autopack starts gets ``PYTHONUTF8=1`` through ``subprocess_env``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping


def harden_stdio() -> None:
    """Reconfigure stdout and stderr to UTF-8, replacing what cannot be encoded."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(encoding="utf-8", errors="replace")
            except (ValueError, OSError):  # a closed or detached stream: nothing to fix
                pass


def subprocess_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for every child process: the current one plus PYTHONUTF8=1, without the
    provider keys (see ``secrets``): checks and fixes never need them, and must not print them."""
    from .secrets import secret_env_names

    hidden = secret_env_names()
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env["PYTHONUTF8"] = "1"
    env.setdefault("PYTHONIOENCODING", "utf-8")
    if extra:
        env.update(extra)
    return env
