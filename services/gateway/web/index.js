// The index page's own script (kept out of the HTML so the pages need no
// 'unsafe-inline' in their Content-Security-Policy).
"use strict";
const $ = id => document.getElementById(id);
const drop = $("drop"), input = $("file");
let upload = null, paused = false;

for (const ev of ["dragenter", "dragover"]) drop.addEventListener(ev, e => { e.preventDefault(); drop.classList.add("over"); });
for (const ev of ["dragleave", "drop"]) drop.addEventListener(ev, e => { e.preventDefault(); drop.classList.remove("over"); });
drop.addEventListener("drop", e => { if (e.dataTransfer.files.length) send(e.dataTransfer.files[0]); });
input.addEventListener("change", () => { if (input.files.length) send(input.files[0]); });
$("pause").addEventListener("click", () => {
  if (!upload) return;
  paused = !paused;
  if (paused) { upload.abort(); $("pause").textContent = "Resume"; $("status").textContent = "Paused."; }
  else { upload.start(); $("pause").textContent = "Pause"; }
});

function showError(msg) { $("error").textContent = msg; $("error").hidden = false; $("bar").classList.add("bad"); }

// progress draws the bar for the bytes the server has confirmed.
let started = 0;
function progress(sent, total) {
  const pct = total ? Math.floor(sent / total * 100) : 0;
  $("bar").firstElementChild.style.width = pct + "%";
  $("bar").setAttribute("aria-valuenow", pct);
  $("pct").textContent = `${pct}% · ${hlsd.bytes(sent)} of ${hlsd.bytes(total)}`;
  const secs = (Date.now() - started) / 1000;
  if (secs > 0.5 && sent > 0) $("rate").textContent = hlsd.bytes(sent / secs) + "/s";
}

function send(file) {
  hlsd.setToken($("token").value.trim());
  $("error").hidden = true;
  $("progress").hidden = false;
  $("bar").classList.remove("bad", "ok");
  $("name").textContent = file.name + " (" + hlsd.bytes(file.size) + ")";
  $("status").textContent = "Uploading…";
  drop.hidden = true;
  started = Date.now();
  progress(0, file.size);
  let videoID = "";
  upload = new tus.Upload(file, {
    endpoint: "/api/uploads/",
    chunkSize: 8 * 1024 * 1024,          // progress is confirmed per chunk; a drop loses at most one
    retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000],
    removeFingerprintOnSuccess: true,
    metadata: { filename: file.name, filetype: file.type || "application/octet-stream" },
    headers: hlsd.authHeaders(),
    onProgress: progress,
    onAfterResponse(req, res) { videoID = res.getHeader("Hlsd-Video-Id") || videoID; },
    onShouldRetry(err) {
      const s = err.originalResponse ? err.originalResponse.getStatus() : 0;
      if (s === 0) $("status").textContent = "Connection lost — retrying, the upload will resume where it stopped…";
      return !(s >= 400 && s < 500 && s !== 409 && s !== 423);
    },
    onError(err) {
      const res = err.originalResponse;
      const body = res ? res.getBody() : "";
      let msg = err.message;
      try { msg = JSON.parse(body).error || msg; } catch { if (body) msg = body.trim(); }
      if (res && res.getStatus() === 404) return fallback(file);   // a server without tus
      showError(msg);
      drop.hidden = false;
    },
    onSuccess() {
      $("bar").classList.add("ok");
      $("status").textContent = "Uploaded. Processing…";
      if (videoID) location.href = "/videos/" + encodeURIComponent(videoID);
      else showError("The upload finished but the server did not say which video it became.");
    },
  });
  upload.findPreviousUploads().then(prev => {
    if (prev.length) { upload.resumeFromPreviousUpload(prev[0]); $("status").textContent = "Resuming an earlier upload of this file…"; }
    upload.start();
  });
}

// fallback sends the file with one multipart POST (servers without tus).
function fallback(file) {
  const xhr = new XMLHttpRequest();
  const form = new FormData();
  form.append("upload", file);
  xhr.open("POST", "/api/videos");
  for (const [k, v] of Object.entries(hlsd.authHeaders())) xhr.setRequestHeader(k, v);
  xhr.upload.onprogress = e => progress(e.loaded, e.total);
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch { /* keep the text */ }
    if (xhr.status === 202 && body.id) location.href = "/videos/" + encodeURIComponent(body.id);
    else showError(body.error || xhr.responseText || "The server answered " + xhr.status + ".");
  };
  xhr.onerror = () => showError("The upload did not reach the server.");
  xhr.send(form);
}
