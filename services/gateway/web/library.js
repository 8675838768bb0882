// The library page's own script (kept out of the HTML so the pages need no
// 'unsafe-inline' in their Content-Security-Policy).
"use strict";
const $ = id => document.getElementById(id);
$("reload").addEventListener("click", () => location.reload());
let cursor = "";

function tile(v) {
  const href = "/videos/" + encodeURIComponent(v.id);
  const thumb = hlsd.el("a", { class: "thumb", href, "aria-label": hlsd.title(v) },
    v.source && v.source.duration ? hlsd.el("span", { class: "dur" }, hlsd.duration(v.source.duration)) : null);
  if (v.poster_url) thumb.style.backgroundImage = `url("${v.poster_url}")`;
  const del = hlsd.el("button", { type: "button", class: "danger", title: "Delete" }, "Delete");
  const t = hlsd.el("article", { class: "tile", "data-id": v.id }, thumb,
    hlsd.el("div", { class: "meta" },
      hlsd.el("a", { class: "title", href, title: hlsd.title(v) }, hlsd.title(v)),
      hlsd.el("div", { class: "row" }, hlsd.el("span", { class: "badge " + v.state }, v.state === "encoding" || v.state === "segmenting"
        ? `${v.state} ${Math.floor((v.progress || 0) * 100)}%` : v.state), hlsd.el("span", {}, hlsd.ago(v.created_at))),
      hlsd.el("div", { class: "row" }, hlsd.el("span", {}, hlsd.bytes(v.size || 0)), del)));
  del.addEventListener("click", async () => {
    if (!confirm(`Delete "${hlsd.title(v)}" and every file of it?`)) return;
    del.disabled = true;
    try {
      await hlsd.api("/api/videos/" + encodeURIComponent(v.id), { method: "DELETE" });
      t.remove();
      if (!$("grid").children.length) $("empty").hidden = false;
    } catch (err) { del.disabled = false; alert(err.message); }
  });
  return t;
}

async function load() {
  try {
    const page = await hlsd.api("/api/videos?limit=24" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    const videos = Array.isArray(page) ? page : page.videos || [];
    cursor = Array.isArray(page) ? "" : page.next_cursor || "";
    $("grid").append(...videos.map(tile));
    $("empty").hidden = $("grid").children.length > 0;
    $("more").hidden = !cursor;
  } catch (err) {
    $("error").hidden = false;
    $("error").textContent = err.status === 401 ? "This server needs an API token: enter it below." : err.message;
  }
}
$("more").addEventListener("click", load);
load();
