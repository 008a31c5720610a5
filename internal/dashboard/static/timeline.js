// Clustered Video Streams dashboard: the timeline's data shaping, with no DOM, so that Go tests
// run this very file in goja as the page runs it in the browser.
"use strict";
(function (root) {
  const WINDOW_MS = 60 * 60 * 1000;

  // Go writes times with up to nine fractional digits; Date.parse is only sure of three.
  function ms(t) {
    return Date.parse(String(t).replace(/(\.\d{3})\d+/, "$1"));
  }

  const openWord = (v) => (v === "true" ? "open" : v === "false" ? "closed" : null);

  // shape returns an instance's last windowMs before nowMs (epoch milliseconds) as two strips,
  // health and open, each a list of {from, to, value} segments oldest first, and its open/close
  // changes as marks {at, value, by, reason, force, fallback, automated}, oldest first. records
  // are audit records of the cluster in any order; only the instance's own are read. The strips
  // are walked back from the instance's current state through each record's "before", so a
  // record missing from the window cannot invent a state; before its registration an instance
  // has no segments.
  function shape(instance, records, nowMs, windowMs) {
    const start = nowMs - (windowMs || WINDOW_MS);
    const mine = records
      .filter((r) => r.domain === instance.domain)
      .map((r) => ({ r, t: Math.min(ms(r.at), nowMs) }))
      .sort((a, b) => b.t - a.t || b.r.version - a.r.version);
    const strips = { health: [], open: [] };
    const cur = { health: instance.health || "unknown", open: instance.distro_open ? "open" : "closed" };
    const end = { health: nowMs, open: nowMs };
    const marks = [];
    // cut ends the strip's current segment at t (its start) and makes value the one before it.
    const cut = (strip, t, value) => {
      const from = Math.max(t, start);
      if (cur[strip] !== null && end[strip] > from) strips[strip].push({ from, to: end[strip], value: cur[strip] });
      end[strip] = from;
      cur[strip] = value;
    };
    for (const { r, t } of mine) {
      if (t <= start) break;
      if (r.field === "health") {
        cut("health", t, r.before || "unknown");
      } else if (r.field === "distro_open") {
        cut("open", t, openWord(r.before));
        marks.push({
          at: t, value: openWord(r.after) || r.after, by: r.by || "", reason: r.reason || "",
          force: !!r.force, fallback: !!r.fallback, automated: (r.by || "").startsWith("arn:aws:states:"),
        });
      } else if (r.field === "registration" && !r.before) {
        cut("health", t, null); // not registered yet
        cut("open", t, null);
      }
    }
    cut("health", start, null);
    cut("open", start, null);
    return { start, end: nowMs, health: strips.health.reverse(), open: strips.open.reverse(), marks: marks.reverse() };
  }

  root.CVSTimeline = { shape, ms, WINDOW_MS };
})(globalThis);
