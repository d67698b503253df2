/* The report's behaviour: fill sections with their texts when opened, expand/collapse, filter, search.
   Heavy texts wait in <script type="application/json" id="..."> blocks until a section is opened. */
(function () {
  "use strict";
  var cache = {};

  function data(id) {
    if (!(id in cache)) {
      var el = document.getElementById(id);
      cache[id] = el ? JSON.parse(el.textContent) : {};
    }
    return cache[id];
  }

  function paintDiff(pre, text) {
    var frag = document.createDocumentFragment();
    var lines = text.split("\n");
    var inHunk = false;
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i];
      if (i === lines.length - 1 && line === "") break;
      var cls = "";
      if (line.indexOf("diff --git ") === 0) { inHunk = false; cls = "m"; }
      else if (line.indexOf("@@") === 0) { inHunk = true; cls = "h"; }
      else if (!inHunk && /^(--- |\+\+\+ |index |new file|deleted file|rename |similarity )/.test(line)) { cls = "m"; }
      else if (line.charAt(0) === "+") { cls = "a"; }
      else if (line.charAt(0) === "-") { cls = "d"; }
      if (cls) {
        var span = document.createElement("span");
        span.className = cls;
        span.textContent = line;
        frag.appendChild(span);
        frag.appendChild(document.createTextNode("\n"));
      } else {
        frag.appendChild(document.createTextNode(line + "\n"));
      }
    }
    pre.textContent = "";
    pre.appendChild(frag);
  }

  function fill(details) {
    var body = details.querySelector(":scope > [data-src]");
    if (!body || body.getAttribute("data-filled")) return;
    var d = data(body.getAttribute("data-src"));
    var fields = body.querySelectorAll("[data-field]");
    for (var i = 0; i < fields.length; i++) {
      var el = fields[i];
      var text = d[el.getAttribute("data-field")] || "";
      if (el.classList.contains("diff") && text) paintDiff(el, text);
      else el.textContent = text;
    }
    body.setAttribute("data-filled", "1");
  }

  document.addEventListener("toggle", function (e) {
    var t = e.target;
    if (t && t.tagName === "DETAILS" && t.open) fill(t);
  }, true);

  function setAll(selector, open) {
    var all = document.querySelectorAll(selector);
    for (var i = 0; i < all.length; i++) {
      all[i].open = open;
      if (open) fill(all[i]);
    }
  }

  function openTo(el) {
    for (var p = el; p; p = p.parentElement) {
      if (p.tagName === "DETAILS" && !p.open) { p.open = true; fill(p); }
    }
  }

  function on(id, ev, fn) {
    var el = document.getElementById(id);
    if (el) el.addEventListener(ev, fn);
  }

  on("expand-all", "click", function () { setAll("details.phase", true); });
  on("collapse-all", "click", function () { setAll("details", false); });
  on("only-recovery", "change", function (e) {
    document.getElementById("phases").classList.toggle("only-rec", e.target.checked);
  });
  on("search", "input", function (e) {
    var q = e.target.value.trim().toLowerCase();
    var rows = document.querySelectorAll("details.phase");
    for (var i = 0; i < rows.length; i++) {
      rows[i].hidden = q !== "" && rows[i].getAttribute("data-search").indexOf(q) === -1;
    }
  });

  function followHash() {
    var h = decodeURIComponent(location.hash.slice(1));
    if (h === "all") { setAll("details", true); return; }
    var el = h && document.getElementById(h);
    if (el) { openTo(el); if (el.tagName === "DETAILS") { el.open = true; fill(el); } el.scrollIntoView(); }
  }
  window.addEventListener("hashchange", followHash);
  followHash();

  var open = document.querySelectorAll("details[open]");
  for (var i = 0; i < open.length; i++) fill(open[i]);
  document.documentElement.setAttribute("data-ready", String(Math.round(performance.now())));
})();
