// The video page's own script (kept out of the HTML so the pages need no
// 'unsafe-inline' in their Content-Security-Policy).
"use strict";
const $ = id => document.getElementById(id);
const id = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
const order = ["uploaded", "encoding", "segmenting", "ready"];
let player = null, source = null, previewsShown = false;

function render(v) {
  document.title = hlsd.title(v) + " — hlsd";
  $("title").textContent = hlsd.title(v);
  const at = order.indexOf(v.state);
  for (const li of $("steps").children) {
    const i = order.indexOf(li.dataset.state);
    li.className = v.state === "failed" ? (i === 0 ? "done" : "") : i < at || v.state === "ready" ? "done" : i === at ? "active" : "";
  }
  if (v.state === "failed") {
    const last = [...$("steps").children].find(li => !li.className) || $("steps").lastElementChild;
    last.className = "failed";
    last.textContent = "Failed";
  }
  const pct = Math.floor((v.progress || 0) * 100);
  $("bar").firstElementChild.style.width = pct + "%";
  $("bar").setAttribute("aria-valuenow", pct);
  $("pct").textContent = pct + "%";
  $("stage").textContent = v.state === "uploaded" && v.queue_position > 1 ?
    `Waiting for an encoder: ${v.queue_position - 1} upload${v.queue_position > 2 ? "s" : ""} ahead of this one…` :
    { uploaded: "Waiting for an encoder…", encoding: "Encoding chunks of every rendition in parallel",
    segmenting: "Cutting segments and writing playlists", ready: "Ready", failed: "Failed" }[v.state] || v.state;
  $("renditions").replaceChildren(...(v.renditions || []).map(r => hlsd.el("li", { class: r.done ? "done" : "" },
    hlsd.el("strong", {}, r.name), " ", r.width ? `${r.width}×${r.height}` : r.label ? `AAC · ${r.label}` : "AAC",
    hlsd.el("br"), hlsd.el("span", { class: "muted" }, r.done ? "✓ " + (r.bandwidth ? Math.round(r.bandwidth / 1000) + " kbit/s peak" : "done") : v.state === "failed" ? "—" :
      v.chunks > 1 ? `${r.published || 0} of ${v.chunks} chunks` : "in progress"))));
  if (v.state === "failed") {
    $("bar").classList.add("bad");
    $("failure").hidden = false;
    $("failure").textContent = (v.failure && v.failure.reason) || "Processing failed.";
  }
  const facts = [["Uploaded", new Date(v.created_at).toLocaleString()], ["Size", hlsd.bytes(v.size || 0)]];
  if (v.source) {
    facts.push(["Source", [v.source.format, v.source.video_codec, v.source.audio_codec].filter(Boolean).join(" · ")]);
    if (v.source.width) {
      // What was done to the picture: deinterlaced, tone-mapped.
      const notes = [v.source.interlaced && "interlaced, deinterlaced", v.source.hdr && `HDR (${v.source.hdr.toUpperCase()}), tone-mapped to SDR`].filter(Boolean);
      facts.push(["Picture", `${v.source.width}×${v.source.height}` + (v.source.frame_rate ? ` @ ${+v.source.frame_rate.toFixed(3)} fps` : "") + (notes.length ? ` · ${notes.join(" · ")}` : "")]);
    }
    facts.push(["Duration", hlsd.duration(v.source.duration)]);
    const audios = (v.renditions || []).filter(r => !r.width && r.label);
    if (audios.length > 1) facts.push(["Audio", audios.map(r => r.label + (r.language ? ` (${r.language})` : "")).join(" · ")]);
    const subs = v.subtitles || [];
    if (subs.length) facts.push(["Subtitles", subs.map(s => s.label + (s.language ? ` (${s.language})` : "") + (s.origin === "upload" ? ", added" : "")).join(" · ")]);
    for (const n of v.source.notes || []) facts.push(["Note", n]);
  }
  if (v.master_url) facts.push(["Master playlist", hlsd.el("code", {}, v.master_url)]);
  $("facts").replaceChildren(...facts.flatMap(([k, val]) => [hlsd.el("dt", {}, k), hlsd.el("dd", {}, val)]));
  // Playable before ready: the first chunks are published while the rest
  // encodes, and the player follows the growing playlists.
  if (v.state !== "failed" && v.master_url && !player) play(v);
  if (player) $("processing").hidden = v.state === "ready";
  if (v.thumbnails_url && !previewsShown) { previewsShown = true; previews(v.thumbnails_url); }
}

function play(v) {
  $("processing").hidden = true;
  $("watch").hidden = false;
  const video = $("video");
  if (v.poster_url) video.poster = v.poster_url;
  if (window.Hls && Hls.isSupported()) {
    // startPosition 0: a video still encoding has EVENT playlists, which
    // hls.js would otherwise join near their end, like a live stream.
    // The viewer's subtitles, if they chose some before (subtitlesMenu):
    // hls.js picks them itself as the tracks arrive.
    let subtitlePreference;
    try {
      const saved = JSON.parse(localStorage.getItem("hlsd.subtitles"));
      if (saved && !saved.off) subtitlePreference = { lang: saved.lang, name: saved.name };
    } catch { /* none kept */ }
    player = new Hls({ capLevelToPlayerSize: false, startPosition: 0, subtitlePreference });
    window.hls = player; // for tests and the curious
    player.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
      const q = $("quality");
      data.levels.forEach((l, i) => q.append(hlsd.el("option", { value: String(i) },
        (l.height ? l.height + "p" : "audio") + " · " + Math.round(l.bitrate / 1000) + " kbit/s")));
    });
    player.on(Hls.Events.LEVEL_SWITCHED, (_, data) => {
      const l = player.levels[data.level];
      $("playing").textContent = "Playing " + (l.height ? l.width + "×" + l.height : "audio");
      video.dataset.level = String(data.level);
    });
    player.on(Hls.Events.AUDIO_TRACKS_UPDATED, (_, data) => audioMenu(data.audioTracks.map(t => ({ name: t.name, lang: t.lang })),
      player.audioTrack, i => { player.audioTrack = i; }));
    player.subtitleDisplay = true;
    // hls.js makes its own first choice after telling of the tracks: the
    // menu's comes after it.
    player.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, (_, data) => setTimeout(() => subtitlesMenu(data.subtitleTracks.map(t => ({ name: t.name, lang: t.lang })),
      player.subtitleTrack, i => { player.subtitleTrack = i; })));
    player.on(Hls.Events.SUBTITLE_TRACK_SWITCH, (_, data) => { $("subtitles").value = String(data.id); });
    player.on(Hls.Events.ERROR, (_, data) => {
      if (data.fatal) { $("failure").hidden = false; $("failure").textContent = "Playback failed: " + data.details; }
    });
    player.loadSource(v.master_url);
    player.attachMedia(video);
    $("quality").addEventListener("change", e => { player.currentLevel = Number(e.target.value); });
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = v.master_url; // Safari plays HLS itself and picks the quality
    $("quality").disabled = true;
    const tracks = video.audioTracks; // Safari's own list of the audio group
    if (tracks) video.addEventListener("loadedmetadata", () => {
      const list = [...tracks];
      audioMenu(list.map(t => ({ name: t.label, lang: t.language })), list.findIndex(t => t.enabled),
        i => list.forEach((t, j) => { t.enabled = i === j; }));
    }, { once: true });
    // Safari lists the subtitles group as text tracks.
    video.addEventListener("loadedmetadata", () => {
      const list = [...video.textTracks].filter(t => t.kind === "subtitles" || t.kind === "captions");
      subtitlesMenu(list.map(t => ({ name: t.label, lang: t.language })), list.findIndex(t => t.mode === "showing"),
        i => list.forEach((t, j) => { t.mode = i === j ? "showing" : "disabled"; }));
    }, { once: true });
  }
}

// subtitlesMenu offers "Off" and the subtitles group's tracks, and
// remembers the viewer's choice (off, or the language and name) for the
// next video.
function subtitlesMenu(tracks, current, choose) {
  const menu = $("subtitles");
  menu.hidden = $("subtitles-label").hidden = tracks.length === 0;
  if (!tracks.length) return;
  menu.replaceChildren(hlsd.el("option", { value: "-1" }, "Off"),
    ...tracks.map((t, i) => hlsd.el("option", { value: String(i) }, t.name || t.lang || `Subtitles ${i + 1}`)));
  let saved = null;
  try { saved = JSON.parse(localStorage.getItem("hlsd.subtitles")); } catch { /* none kept */ }
  let pick = current;
  if (saved && saved.off) pick = -1;
  else if (saved) {
    const same = tracks.findIndex(t => t.name === saved.name && t.lang === saved.lang);
    pick = same >= 0 ? same : saved.lang ? tracks.findIndex(t => t.lang === saved.lang) : -1;
    if (pick < 0) pick = current;
  }
  if (pick !== current) choose(pick);
  menu.value = String(pick);
  menu.onchange = e => {
    const i = Number(e.target.value);
    choose(i);
    try { localStorage.setItem("hlsd.subtitles", JSON.stringify(i < 0 ? { off: true } : tracks[i])); } catch { /* private mode */ }
  };
}

// audioMenu offers the audio group's tracks (several languages, an audio
// description) and remembers the viewer's choice for the next video: the
// same language, else the same name.
function audioMenu(tracks, current, choose) {
  const menu = $("audio");
  menu.hidden = $("audio-label").hidden = tracks.length < 2;
  if (tracks.length < 2) return;
  menu.replaceChildren(...tracks.map((t, i) => hlsd.el("option", { value: String(i) }, t.name || t.lang || `Audio ${i + 1}`)));
  let saved = null;
  try { saved = JSON.parse(localStorage.getItem("hlsd.audio")); } catch { /* none kept */ }
  let pick = saved ? tracks.findIndex(t => t.name === saved.name && t.lang === saved.lang) : -1;
  if (pick < 0 && saved && saved.lang) pick = tracks.findIndex(t => t.lang === saved.lang);
  if (pick >= 0 && pick !== current) choose(pick);
  menu.value = String(pick >= 0 ? pick : Math.max(current, 0));
  menu.onchange = e => {
    const i = Number(e.target.value);
    choose(i);
    try { localStorage.setItem("hlsd.audio", JSON.stringify(tracks[i])); } catch { /* private mode */ }
  };
}

// previews shows storyboard thumbnails above the seek bar (WebVTT with sprite#xywh= cues).
async function previews(url) {
  let cues;
  try {
    const text = await (await fetch(url)).text();
    cues = [...text.matchAll(/(\d+:[\d:.]+)\s+-->\s+(\d+:[\d:.]+)\s*\n(\S+)/g)].map(m => {
      const [file, frag] = m[3].split("#xywh=");
      const [x, y, w, h] = (frag || "0,0,160,90").split(",").map(Number);
      return { start: secs(m[1]), end: secs(m[2]), src: new URL(file, url).href, x, y, w, h };
    });
  } catch { return; }
  if (!cues.length) return;
  const video = $("video"), seek = $("seek"), pv = $("preview");
  $("scrub").hidden = false;
  video.addEventListener("timeupdate", () => { if (video.duration) seek.value = Math.round(video.currentTime / video.duration * 1000); });
  seek.addEventListener("input", () => { if (video.duration) video.currentTime = seek.value / 1000 * video.duration; });
  const show = clientX => {
    const r = seek.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (clientX - r.left) / r.width));
    const t = f * (video.duration || cues[cues.length - 1].end);
    const c = cues.find(c => t >= c.start && t < c.end) || cues[cues.length - 1];
    Object.assign(pv.style, { display: "block", left: f * r.width + "px", width: c.w + "px", height: c.h + "px",
      backgroundImage: `url("${c.src}")`, backgroundPosition: `-${c.x}px -${c.y}px` });
    pv.firstElementChild.textContent = hlsd.duration(t) || "0:00";
  };
  seek.addEventListener("mousemove", e => show(e.clientX));
  seek.addEventListener("touchmove", e => show(e.touches[0].clientX), { passive: true });
  for (const ev of ["mouseleave", "touchend"]) seek.addEventListener(ev, () => { pv.style.display = "none"; });
}
function secs(ts) { return ts.split(":").reduce((a, p) => a * 60 + Number(p), 0); }

function notFound(msg) {
  $("title").textContent = "No such video";
  $("processing").hidden = true;
  $("failure").hidden = false;
  $("failure").textContent = msg;
}

// follow streams the video's state over server-sent events, or polls where
// the server has none.
function follow() {
  const q = hlsd.token() ? "?access_token=" + encodeURIComponent(hlsd.token()) : "";
  source = new EventSource(`/api/videos/${encodeURIComponent(id)}/events${q}`);
  let got = false;
  source.addEventListener("video", e => { got = true; render(JSON.parse(e.data)); });
  source.addEventListener("end", () => source.close());
  source.onerror = async () => {
    if (source.readyState !== EventSource.CLOSED && got) return; // it reconnects by itself
    source.close();
    poll();
  };
}
async function poll() {
  try {
    const v = await hlsd.api("/api/videos/" + encodeURIComponent(id));
    render(v);
    if (v.state !== "ready" && v.state !== "failed") setTimeout(poll, 1000);
  } catch (err) {
    notFound(err.status === 404 ? "This video does not exist, or it was deleted." : err.message);
  }
}

$("delete").addEventListener("click", async () => {
  if (!confirm("Delete this video and every file of it?")) return;
  try {
    await hlsd.api("/api/videos/" + encodeURIComponent(id), { method: "DELETE" });
    location.href = "/videos";
  } catch (err) { alert(err.message); }
});

follow();
