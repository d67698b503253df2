"""docs/BENCHMARKS.md sections shared by the benchmark scripts: each script owns the text between
its own markers; notes written by hand and other scripts' sections are kept."""

from __future__ import annotations

PREAMBLE = "# Benchmarks\n\nScripts under `scripts/bench/`; each section says how it was produced.\n"


def replace_section(doc: str, heading: str, body: str, script: str) -> str:
    """Put ``body`` between ``<!-- script:key:begin/end -->`` inside ``## heading``; a missing
    section is appended."""
    key = heading.lower().replace(" ", "-")
    begin, end = f"<!-- {script}:{key}:begin -->", f"<!-- {script}:{key}:end -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    if begin in doc and end in doc:
        head, rest = doc.split(begin, 1)
        return head + block + rest.split(end, 1)[1]
    title = f"## {heading}"
    if title in doc:
        head, rest = doc.split(title, 1)
        return f"{head}{title}\n\n{block}\n{rest}"
    if not doc.strip():
        doc = PREAMBLE
    return doc.rstrip("\n") + f"\n\n{title}\n\n{block}\n"
