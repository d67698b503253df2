"""Apply SEARCH/REPLACE replies with Aider's real applier (aider-chat's editblock_coder), one JSON case a line.

Run by ``edits_real.py`` in its own process, so nothing of Aider is imported into autopack's:

    python scripts/bench/edits_aider_driver.py aider_chat-0.86.2-py3-none-any.whl < cases.jsonl > results.jsonl

The argument is the wheel ``pip download --no-deps aider-chat==0.86.2`` fetches (or the module file
``aider/coders/editblock_coder.py``). Its functions ``find_original_update_blocks`` and
``do_replace`` need only the standard library; the package modules the file imports for its coder
class (``base_coder``, ``editblock_prompts``, ``utils``) are empty stand-ins here, since none of
them is used by those functions. Each case (``{"id", "root", "path", "reply"}``, the file already
written under ``root``) is applied the way ``EditBlockCoder.apply_edits`` does: every block of the
reply through ``do_replace``, a block whose file does not match tried on the chat's file (here the
case's one file), written when it matched. Out: ``{"id", "ok", "seconds"}``.
"""

from __future__ import annotations

import json
import sys
import time
import types
import zipfile
from pathlib import Path

MODULE = "aider/coders/editblock_coder.py"


def load(source: str) -> types.ModuleType:
    """Aider's editblock_coder module, its package imports stood in for."""
    stubs = {
        "aider": "",
        "aider.utils": "",
        "aider.dump": "def dump(*vals):\n    pass\n",
        "aider.coders": "",
        "aider.coders.base_coder": "class Coder:\n    pass\n",
        "aider.coders.editblock_prompts": "class EditBlockPrompts:\n    pass\n",
    }
    for name, code in stubs.items():
        mod = types.ModuleType(name)
        mod.__path__ = []  # type: ignore[attr-defined]  # a package, so relative imports resolve
        exec(code, mod.__dict__)
        sys.modules[name] = mod
    sys.modules["aider"].utils = sys.modules["aider.utils"]  # type: ignore[attr-defined]
    eb = types.ModuleType("aider.coders.editblock_coder")
    eb.__package__ = "aider.coders"
    exec(compile(source, MODULE, "exec"), eb.__dict__)
    return eb


def apply(eb: types.ModuleType, root: Path, path: str, reply: str) -> bool:
    fence = eb.DEFAULT_FENCE
    try:
        edits = [e for e in eb.find_original_update_blocks(reply, fence, [path]) if e[0] is not None]
    except ValueError:
        return False
    ok = bool(edits)
    for name, original, updated in edits:
        full = root / name
        new = None
        if full.exists():
            new = eb.do_replace(str(full), full.read_text(encoding="utf-8"), original, updated, fence)
        if not new and original.strip():
            full = root / path  # "try patching any of the other files in the chat"
            new = eb.do_replace(str(full), full.read_text(encoding="utf-8"), original, updated, fence)
        if new:
            full.write_text(new, encoding="utf-8")
        else:
            ok = False
    return ok


def main() -> int:
    spec = Path(sys.argv[1])
    source = zipfile.ZipFile(spec).read(MODULE).decode() if spec.suffix == ".whl" else spec.read_text()
    eb = load(source)
    for line in sys.stdin:
        case = json.loads(line)
        t0 = time.perf_counter()
        ok = apply(eb, Path(case["root"]), case["path"], case["reply"])
        out = {"id": case["id"], "ok": ok, "seconds": time.perf_counter() - t0}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
