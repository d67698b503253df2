"""The HTML run report: one self-contained file (styles, script and SVG charts inlined; a content
security policy forbids every network load) that tells a run at a glance.

``data.build_report`` reads the run store into a ``RunReport`` (typed, no HTML); ``render.render_report``
turns it into the page, from ``template.html``, ``report.css`` and ``report.js`` beside this file.
Heavy texts (diffs, gate output, messages) travel as JSON and are drawn only when their section is
opened, so a 200-phase run loads quickly.
"""

from .data import build_report
from .render import render_report

__all__ = ["build_report", "render_report"]
