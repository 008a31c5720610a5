// Clustered Video Streams dashboard: polls the API every 2 s and renders each cluster's
// instances and recent history; open and close go through an in-page confirmation with a reason.
// The page never holds credentials: it talks to the API it was served from (the local runtime,
// or `cvsctl dashboard`, which signs every request with the operator's own AWS credentials).
"use strict";
(() => {
  const apiRoot = new URL("../", location.href); // the page lives at <api>/dashboard/
  const REFRESH_MS = 2000;
  const HISTORY_ROWS = 10;
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
  function ago(d) {
    const secs = Math.max(0, Math.round((Date.now() - d.getTime()) / 1000));
    return secs < 90 ? `${secs}s ago` : secs < 5400 ? `${Math.round(secs / 60)}m ago`
      : secs < 172800 ? `${Math.round(secs / 3600)}h ago` : `${Math.round(secs / 86400)}d ago`;
  }
  // A time as "2026-11-21 10:11:23Z" with how long ago under it.
  function when(t) {
    if (!isSet(t)) return el("span", { class: "muted" }, "—");
    const d = new Date(t);
    return el("span", { class: "when" }, d.toISOString().replace("T", " ").slice(0, 19) + "Z",
      el("br"), el("span", { class: "muted" }, ago(d)));
  }
  // An IAM or execution ARN shown by its resource part: assumed-role/Ops/alice, user/bob.
  function principal(p) {
    if (!p) return "—";
    const parts = p.split(":");
    return p.startsWith("arn:") && parts.length > 5 ? parts.slice(5).join(":") : p;
  }
  const badge = (cls, text) => el("span", { class: `badge ${cls}` }, text);

  function instanceRow(c, i) {
    const last = [i.open_changed_at, i.health_changed_at].filter(isSet).sort().pop();
    const action = i.distro_open
      ? el("button", { type: "button", class: "danger act", "data-action": "close", "data-cluster": c, "data-domain": i.domain }, "Close…")
      : el("button", { type: "button", class: "go act", "data-action": "open", "data-cluster": c, "data-domain": i.domain }, "Open…");
    return el("tr", { "data-domain": i.domain },
      el("td", { class: "nowrap" }, i.region),
      el("td", { class: "mono" }, i.domain),
      el("td", {}, badge(i.health, i.health)),
      el("td", { class: "state" }, i.distro_open ? badge("open", "open") : badge("closed", "closed")),
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
    const healthy = v.instances.filter((i) => i.distro_open && i.health === "fresh").length;
    const text = `${v.instances.length} instances, ${open} open, ${healthy} open and healthy`;
    return healthy === 0
      ? el("span", { class: "summary warn" }, `${text}: no healthy region is serving viewers`)
      : el("span", { class: "summary" }, text);
  }

  function render(views) {
    const sections = views.map((v) => el("section", { class: "cluster", "data-cluster": v.cluster },
      el("h2", {}, v.cluster, summary(v)),
      table("instances", ["Region", "Domain", "Health", "State", "Last change", "By", "Reason", ""],
        v.instances.map((i) => instanceRow(v.cluster, i)), "no instances"),
      el("h3", {}, "Recent history"),
      table("history", ["When", "Domain", "What", "Change", "By", "Reason"],
        v.history.map(historyRow), "no changes recorded yet")));
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

  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      const list = await call("GET", "clusters");
      const views = await Promise.all(list.clusters.map(async (c) => {
        const base = `clusters/${enc(c.cluster)}`;
        const [detail, hist] = await Promise.all([
          call("GET", base), call("GET", `${base}/history?limit=${HISTORY_ROWS}`)]);
        return { cluster: c.cluster, instances: detail.instances, history: hist.records };
      }));
      render(views);
      setStatus(`updated ${new Date().toLocaleTimeString()}`, false);
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
