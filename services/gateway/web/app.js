// Shared helpers of the hlsd web UI (no framework, no build step).
"use strict";

const hlsd = {
  // The API token, if the server needs one, lives in this browser only.
  token() { return localStorage.getItem("hlsd.token") || ""; },
  setToken(t) { t ? localStorage.setItem("hlsd.token", t) : localStorage.removeItem("hlsd.token"); },
  authHeaders() { const t = hlsd.token(); return t ? { Authorization: "Bearer " + t } : {}; },

  // api fetches JSON from the API; errors carry the server's sentence.
  async api(path, opts = {}) {
    const resp = await fetch(path, { ...opts, headers: { ...hlsd.authHeaders(), ...(opts.headers || {}) } });
    if (resp.status === 204) return null;
    const text = await resp.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    if (!resp.ok) {
      const err = new Error((body && body.error) || text.trim() || "The server answered " + resp.status + ".");
      err.status = resp.status;
      throw err;
    }
    return body;
  },

  duration(s) {
    if (!(s > 0)) return "";
    s = Math.round(s);
    const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
  },
  bytes(n) {
    const u = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
    return (i ? n.toFixed(1) : n) + " " + u[i];
  },
  ago(iso) {
    const s = (Date.now() - new Date(iso).getTime()) / 1000;
    if (!(s >= 0)) return "";
    if (s < 60) return "just now";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return new Date(iso).toLocaleDateString();
  },
  title(v) { return v.filename || v.id; },
  el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    e.append(...children.filter(c => c !== null && c !== undefined));
    return e;
  },
};

// The token box, where a page has one.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("token");
  if (!box) return;
  box.value = hlsd.token();
  box.addEventListener("change", () => hlsd.setToken(box.value.trim()));
});
