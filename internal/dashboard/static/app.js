// Clustered Video Streams dashboard: polls the API every 2 s and renders each cluster's
// instances, their last hour as a timeline (timeline.js shapes it) and the recent history; open
// and close go through an in-page confirmation with a reason. Times are the viewer's local time,
// with UTC on hover.
// The page never holds credentials: it talks to the API it was served from (the local runtime,
// or `cvsctl dashboard`, which signs every request with the operator's own AWS credentials).
"use strict";
(() => {
  const apiRoot = new URL("../", location.href); // the page lives at <api>/dashboard/
  const REFRESH_MS = 2000;
  const HISTORY_ROWS = 10;
  const HISTORY_PAGE = 200; // records per history request while filling the timeline's hour
  const HISTORY_PAGES = 5; // at most this many requests per cluster and refresh
  const TL = window.CVSTimeline;
  const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  const $ = (id) => document.getElementById(id);
  let pending = null; // the action awaiting confirmation: {action, cluster, domain}
  let refreshing = false;

  const enc = encodeURIComponent;

  async function call(method, path, body) {
    const init = { method, cache: "no-store", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(new URL(path, apiRoot), init);
    let data = null;
    try { data = await resp.json(); } catch (_) { /* not JSON: described below */ }
    if (!resp.ok) {
      const err = new Error((data && data.message) || `${resp.status} ${resp.statusText}`);
      err.code = (data && data.code) || `http_${resp.status}`;
      throw err;
    }
    return data;
  }

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
    return node;
  }

  const isSet = (t) => t && !t.startsWith("0001-01-01");
  const pad = (n) => String(n).padStart(2, "0");
  // localTime writes d in the viewer's time zone: "10:11:23", or "2026-11-21 10:11:23".
  function localTime(d, withDate) {
    const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    return withDate ? `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms}` : hms;
  }
  const utc = (d) => d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
  function ago(d) {
    const secs = Math.max(0, Math.round((Date.now() - d.getTime()) / 1000));
    return secs < 90 ? `${secs}s ago` : secs < 5400 ? `${Math.round(secs / 60)}m ago`
      : secs < 172800 ? `${Math.round(secs / 3600)}h ago` : `${Math.round(secs / 86400)}d ago`;
  }
  // A time in local time with how long ago under it, and UTC on hover.
  function when(t) {
    if (!isSet(t)) return el("span", { class: "muted" }, "—");
    const d = new Date(TL.ms(t));
    return el("span", { class: "when", title: utc(d) }, localTime(d, true),
      el("br"), el("span", { class: "muted" }, ago(d)));
  }
  // An IAM or execution ARN shown by its resource part: assumed-role/Ops/alice, user/bob.
  function principal(p) {
    if (!p) return "—";
    const parts = p.split(":");
    return p.startsWith("arn:") && parts.length > 5 ? parts.slice(5).join(":") : p;
  }
  const badge = (cls, text) => el("span", { class: `badge ${cls}` }, text);

  // Whether the instance counts as healthy, as the API's guard judges it (open, fresh and
  // vouched for by its detector recently), and if not, why. healthy is null when the API is
  // older than this page and does not say.
  function healthyCell(i, healthy) {
    if (!healthy) return el("span", { class: "muted", title: "the API does not report it" }, "—");
    if (healthy.has(i.domain)) return badge("healthy", "healthy");
    let why = i.health;
    if (!i.distro_open) why = "closed";
    else if (i.health === "fresh" && isSet(i.detector_at)) {
      const d = new Date(TL.ms(i.detector_at));
      why = el("span", { title: utc(d) }, `detector silent since ${localTime(d)}`);
    } else if (i.health === "fresh") why = "no detector heartbeat";
    return el("span", {}, badge("unhealthy", "not healthy"), el("br"), el("span", { class: "muted why" }, why));
  }

  function instanceRow(c, i, healthy) {
    const last = [i.open_changed_at, i.health_changed_at].filter(isSet).sort().pop();
    const action = i.distro_open
      ? el("button", { type: "button", class: "danger act", "data-action": "close", "data-cluster": c, "data-domain": i.domain }, "Close…")
      : el("button", { type: "button", class: "go act", "data-action": "open", "data-cluster": c, "data-domain": i.domain }, "Open…");
    return el("tr", { "data-domain": i.domain },
      el("td", { class: "nowrap" }, i.region),
      el("td", { class: "mono" }, i.domain),
      el("td", {}, badge(i.health, i.health)),
      el("td", { class: "state" }, i.distro_open ? badge("open", "open") : badge("closed", "closed")),
      el("td", { class: "healthy" }, healthyCell(i, healthy)),
      el("td", { class: "nowrap" }, when(last)),
      el("td", { class: "mono", title: i.changed_by || "" }, principal(i.changed_by)),
      el("td", { class: "reason" }, i.reason || "—"),
      el("td", {}, action));
  }

  // What an audit record changed, in words; the raw values stay in the cell's title.
  function change(r) {
    if (r.field === "distro_open") {
      const word = (v) => (v === "true" ? "open" : v === "false" ? "closed" : v || "—");
      return `${word(r.before)} → ${word(r.after)}`;
    }
    if (r.field === "registration") {
      let region = "";
      try { region = JSON.parse(r.after).region || ""; } catch (_) { /* older records: no detail */ }
      return `${r.before ? "updated" : "registered"}${region ? " in " + region : ""}`;
    }
    return `${r.before || "—"} → ${r.after || "—"}`;
  }

  function historyRow(r) {
    return el("tr", {},
      el("td", { class: "nowrap" }, when(r.at)),
      el("td", { class: "mono" }, r.domain),
      el("td", {}, r.field === "distro_open" ? "open/closed" : r.field),
      el("td", { title: `${r.before} → ${r.after}` }, change(r)),
      el("td", { class: "mono", title: r.by || "" }, principal(r.by)),
      el("td", {}, (r.reason || "") + (r.force ? " (forced)" : "")));
  }

  function table(cls, headings, rows, empty) {
    if (rows.length === 0) return el("p", { class: "empty" }, empty);
    return el("table", { class: cls },
      el("thead", {}, el("tr", {}, ...headings.map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows));
  }

  function summary(v) {
    const open = v.instances.filter((i) => i.distro_open).length;
    const healthy = v.healthy ? v.healthy.size : v.healthyCount;
    const n = v.instances.length;
    const text = `${n} instance${n === 1 ? "" : "s"}, ${open} open, ${healthy} open and healthy`;
    return healthy === 0
      ? el("span", { class: "summary warn" }, `${text}: no healthy region is serving viewers`)
      : el("span", { class: "summary" }, text);
  }

  // An element placed along the timeline at left%, width% (CSSOM, which the CSP allows).
  function placed(node, left, width) {
    node.style.left = `${left}%`;
    if (width !== undefined) node.style.width = `${width}%`;
    return node;
  }

  // The instance's last hour: a health strip and an open/closed strip, a pin at each open or
  // close, and under them who made each one and why.
  function timeline(i, records, nowMs, since) {
    const tl = TL.shape(i, records, nowMs, nowMs - since);
    const span = tl.end - tl.start;
    const pct = (t) => ((t - tl.start) / span) * 100;
    const iso = (t) => new Date(t).toISOString();
    const segment = (s) => {
      const from = new Date(s.from), to = new Date(s.to);
      const width = pct(s.to) - pct(s.from);
      return placed(el("span", {
        class: `seg ${s.value}`, "data-value": s.value, "data-from": iso(s.from), "data-to": iso(s.to),
        title: `${s.value} ${localTime(from)} – ${localTime(to)} (${utc(from)} – ${utc(to)})`,
      }, width >= 7 ? s.value : ""), pct(s.from), width);
    };
    const strip = (name, label, segs) => el("div", { class: "tl-row" },
      el("span", { class: "tl-name" }, label),
      el("div", { class: `strip ${name}`, "data-strip": name }, ...segs.map(segment)));
    const pins = tl.marks.map((m, n) => placed(el("span", {
      class: `pin ${m.value}`, "data-at": iso(m.at), title: `${m.value} ${localTime(new Date(m.at))} (${utc(new Date(m.at))})`,
    }, el("span", { class: `pin-n ${m.value}` }, String(n + 1))), pct(m.at)));
    const ticks = [];
    const tick = new Date(tl.start);
    tick.setMinutes(Math.ceil((tick.getMinutes() + 1e-9) / 10) * 10, 0, 0);
    for (; tick.getTime() <= tl.end; tick.setMinutes(tick.getMinutes() + 10)) {
      ticks.push(placed(el("span", { class: "tick", title: utc(tick) }, `${pad(tick.getHours())}:${pad(tick.getMinutes())}`), pct(tick.getTime())));
    }
    const marks = tl.marks.map((m, n) => {
      const d = new Date(m.at);
      const notes = [m.force ? "forced" : "", m.fallback ? "written to the local replica" : ""].filter(Boolean);
      return el("li", { class: `tl-mark ${m.value}`, "data-at": iso(m.at) },
        el("span", { class: `pin-n ${m.value}` }, String(n + 1)), " ",
        el("time", { datetime: iso(m.at), title: utc(d) }, localTime(d)), " ",
        el("b", {}, m.value === "closed" ? "closed" : "opened"),
        ` ${m.automated ? "by automated failover" : "by operator"} `,
        el("span", { class: "mono who", title: m.by }, principal(m.by)),
        notes.length ? ` (${notes.join(", ")})` : "", ": ",
        el("span", { class: "why" }, m.reason || "no reason given"));
    });
    return el("div", { class: "timeline", "data-domain": i.domain },
      el("div", { class: "tl-label" }, i.region, el("br"), el("span", { class: "mono muted" }, i.domain)),
      el("div", { class: "tl-body" },
        el("div", { class: "tl-strips" },
          strip("health", "health", tl.health),
          strip("open", "state", tl.open),
          el("div", { class: "tl-pins" }, ...pins)),
        el("div", { class: "tl-axis" }, ...ticks),
        marks.length ? el("ol", { class: "tl-marks" }, ...marks) : el("p", { class: "tl-none muted" }, "no open or close in this window")));
  }

  function render(views) {
    const sections = views.map((v) => el("section", { class: "cluster", "data-cluster": v.cluster },
      el("h2", {}, v.cluster, summary(v)),
      table("instances", ["Region", "Domain", "Health", "State", "Healthy", "Last change", "By", "Reason", ""],
        v.instances.map((i) => instanceRow(v.cluster, i, v.healthy)), "no instances"),
      el("h3", {}, v.truncated ? `Since ${localTime(new Date(v.since))} (older changes not loaded)` : "Last hour"),
      el("div", { class: "timelines" }, ...v.instances.map((i) => timeline(i, v.history, v.now, v.since))),
      el("h3", {}, "Recent history"),
      table("history", ["When", "Domain", "What", "Change", "By", "Reason"],
        v.history.slice(0, HISTORY_ROWS).map(historyRow), "no changes recorded yet")));
    if (sections.length === 0) sections.push(el("p", { class: "empty" }, "No clusters registered yet (cvsctl register)."));
    $("clusters").replaceChildren(...sections);
  }

  function setStatus(text, down) {
    $("status").textContent = text;
    $("status").classList.toggle("down", down);
  }

  function notice(text, ok) {
    $("notice-text").textContent = text;
    $("notice").classList.toggle("ok", ok);
    $("notice").hidden = false;
  }

  // lastHour pages through the cluster's audit trail (newest first) back to since. If the pages
  // run out first, the timeline starts at the oldest record read, so it never guesses.
  async function lastHour(base, since) {
    const records = [];
    let cursor = "";
    for (let page = 0; page < HISTORY_PAGES; page++) {
      const h = await call("GET", `${base}/history?limit=${HISTORY_PAGE}${cursor ? `&cursor=${enc(cursor)}` : ""}`);
      records.push(...h.records);
      const oldest = h.records[h.records.length - 1];
      if (!h.next || !oldest || TL.ms(oldest.at) <= since) return { records, since, truncated: false };
      cursor = h.next;
    }
    return { records, since: TL.ms(records[records.length - 1].at), truncated: true };
  }

  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      const list = await call("GET", "clusters");
      const views = await Promise.all(list.clusters.map(async (c) => {
        const base = `clusters/${enc(c.cluster)}`;
        const now = Date.now();
        const [detail, hist] = await Promise.all([call("GET", base), lastHour(base, now - TL.WINDOW_MS)]);
        return {
          cluster: c.cluster, instances: detail.instances, history: hist.records, now, since: hist.since, truncated: hist.truncated,
          healthy: detail.healthy ? new Set(detail.healthy) : null, healthyCount: c.healthy,
        };
      }));
      render(views);
      setStatus(`updated ${localTime(new Date())} · times in ${ZONE}, UTC on hover`, false);
    } catch (e) {
      setStatus(`cannot load state: ${e.message}`, true);
    } finally {
      refreshing = false;
    }
  }

  function ask(action, cluster, domain) {
    pending = { action, cluster, domain };
    const closing = action === "close";
    $("confirm-title").textContent = `${closing ? "Close" : "Open"} ${domain}?`;
    $("confirm-detail").textContent = closing
      ? `Cluster ${cluster}: this distribution will answer 404 and players move to another region at once.`
      : `Cluster ${cluster}: this distribution will serve viewers again.`;
    $("confirm-ok").textContent = closing ? "Close distribution" : "Open distribution";
    $("confirm-ok").className = closing ? "danger" : "go";
    $("confirm-force-text").textContent = closing
      ? "force: close even if no other instance is open and healthy (viewers may lose the stream)"
      : "force: open even while the control region is unreachable (written to this region's replica)";
    $("confirm-force").checked = false;
    $("confirm-reason").value = "";
    $("confirm-error").hidden = true;
    $("confirm").hidden = false;
    $("confirm-reason").focus();
  }

  function dismiss() {
    pending = null;
    $("confirm").hidden = true;
  }

  async function confirm(ev) {
    ev.preventDefault();
    if (!pending) return;
    const reason = $("confirm-reason").value.trim();
    if (!reason) {
      $("confirm-error").textContent = "Say why: the reason goes into the audit trail.";
      $("confirm-error").hidden = false;
      return;
    }
    const { action, cluster, domain } = pending;
    const body = { reason };
    if ($("confirm-force").checked) body.force = true;
    $("confirm-ok").disabled = true;
    try {
      await call("POST", `clusters/${enc(cluster)}/instances/${enc(domain)}/${action}`, body);
      dismiss();
      notice(`${action === "close" ? "Closed" : "Opened"} ${domain} in ${cluster}: ${reason}`, true);
    } catch (e) {
      const text = e.code === "guard_refused" ? `Refused by the guard: ${e.message}`
        : e.code === "version_conflict" ? `Conflict: ${e.message}`
        : `Failed (${e.code}): ${e.message}`;
      $("confirm-error").textContent = text;
      $("confirm-error").hidden = false;
      notice(text, false);
    } finally {
      $("confirm-ok").disabled = false;
      refresh();
    }
  }

  $("clusters").addEventListener("click", (ev) => {
    const b = ev.target.closest("button.act");
    if (b) ask(b.dataset.action, b.dataset.cluster, b.dataset.domain);
  });
  $("confirm-form").addEventListener("submit", confirm);
  $("confirm-cancel").addEventListener("click", dismiss);
  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && pending) dismiss(); });
  $("notice-dismiss").addEventListener("click", () => { $("notice").hidden = true; });

  refresh();
  setInterval(refresh, REFRESH_MS);
})();
