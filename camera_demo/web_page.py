"""The live view's one page, served from memory: video, the number, FPS, stage times, changes.

Its script is inline and allowed by hash in the Content-Security-Policy (``SCRIPT_SHA256``),
so the page loads nothing from anywhere else and no other script can run in it. URLs are
relative, so the page also works behind a reverse proxy under a sub-path.
"""

from __future__ import annotations

import base64
import hashlib

SCRIPT = r"""
"use strict";
const $ = (id) => document.getElementById(id);
const fmtTime = (t) => new Date(t * 1000).toLocaleTimeString();

function showReading(r) {
  $("number").textContent = r.number === "" ? "–" : (r.numbers ?? [r.number]).join(" ");
  $("number").classList.toggle("none", r.number === "");
  $("fps").textContent = r.fps.toFixed(1);
  $("frame").textContent = r.frame;
  $("stages").replaceChildren(...Object.entries(r.ms).map(([stage, ms]) => {
    const row = document.createElement("tr");
    row.innerHTML = "<td></td><td class=num></td>";
    row.cells[0].textContent = stage;
    row.cells[1].textContent = ms.toFixed(2);
    return row;
  }));
  $("digits").replaceChildren(...r.digits.map((d) => {
    const item = document.createElement("li");
    item.textContent = `${d.digit}  ${(d.confidence * 100).toFixed(0)} %  at ${d.box.join(", ")}`;
    return item;
  }));
}

function showChanges(changes) {
  $("changes").replaceChildren(...changes.map((c) => {
    const item = document.createElement("li");
    item.textContent = `${fmtTime(c.time)}  ${c.number === "" ? "(none)" : (c.numbers ?? [c.number]).join(" ")}  frame ${c.frame}`;
    return item;
  }));
}

function connect() {
  const events = new EventSource("api/events");
  events.addEventListener("reading", (e) => {
    showReading(JSON.parse(e.data));
    $("status").textContent = "live";
    $("status").className = "live";
  });
  events.addEventListener("changes", (e) => showChanges(JSON.parse(e.data)));
  events.onerror = () => {
    $("status").textContent = "reconnecting…";
    $("status").className = "down";
  };
}

fetch("api/model").then((r) => r.json()).then((m) => {
  $("model").textContent =
    `${m.file} · ${m.format} · ${m.backend} · threshold ${m.threshold}`;
}).catch(() => {});
connect();
"""

SCRIPT_SHA256 = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()

PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>digit-kit live</title>
<link rel="icon" href="data:,">
<style>
  body {{ font-family: system-ui, sans-serif; margin: 0; background: #111; color: #eee; }}
  header {{ padding: .5rem 1rem; display: flex; gap: 1rem; align-items: baseline; }}
  header h1 {{ font-size: 1.1rem; margin: 0; }}
  #status.live {{ color: #6c6; }} #status.down {{ color: #fa3; }}
  main {{ display: flex; flex-wrap: wrap; gap: 1rem; padding: 0 1rem 1rem; }}
  #video {{ max-width: 100%; width: 640px; height: auto; align-self: flex-start;
            background: #222; border-radius: 4px; }}
  #side {{ min-width: 16rem; flex: 1; }}
  #number {{ font-size: clamp(3rem, 12vw, 7rem); font-weight: 700; line-height: 1;
             font-variant-numeric: tabular-nums; margin: .2rem 0 .5rem; }}
  #number.none {{ color: #666; }}
  table {{ border-collapse: collapse; }} td {{ padding: 0 .6rem 0 0; }}
  .num {{ text-align: right; font-variant-numeric: tabular-nums; }}
  ul {{ padding-left: 1.2rem; margin: .2rem 0; font-variant-numeric: tabular-nums; }}
  h2 {{ font-size: .9rem; color: #aaa; margin: .8rem 0 .2rem; font-weight: 600; }}
  #model {{ color: #aaa; font-size: .8rem; }}
</style>
</head>
<body>
<header><h1>digit-kit live</h1><span id="status">connecting…</span></header>
<main>
  <img id="video" src="stream.mjpg" alt="live camera view with the digits read">
  <section id="side">
    <div id="number" class="none" aria-live="polite">–</div>
    <div><span id="fps">–</span> FPS · frame <span id="frame">–</span></div>
    <h2>Digits</h2><ul id="digits"></ul>
    <h2>Milliseconds per stage</h2><table id="stages"></table>
    <h2>Changes</h2><ul id="changes"></ul>
    <p id="model"></p>
  </section>
</main>
<script>{SCRIPT}</script>
</body>
</html>
"""
