// Drives hlsd's web UI as a new user would, in headless Chromium:
//   1. the upload page: drop a file on it, watch the byte progress bar reach
//      100% (the connection is cut once mid-upload: tus must resume, not restart);
//   2. the video page: live processing progress, then the player plays and
//      switches quality, then audio language and subtitles (each kept
//      across a reload);
//   3. the library: the video is listed, then deleted from there.
// Screenshots of each page at laptop and phone sizes go to SHOTS_DIR.
//
//   node ui.js BASE_URL CLIP_PATH CLIP_NAME SHOTS_DIR
//
// Prints one JSON report line; exits non-zero on any failed step.
const { chromium } = require('playwright-core');
const path = require('path');

const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const [base, clipPath, clipName, shots] = process.argv.slice(2);
const clipURL = base + '/__test/clip'; // same origin, so the page's CSP lets it fetch the file
const report = { steps: [], screenshots: [], uploadMaxPct: 0, patchBytes: 0, cut: false, videoID: '' };
const step = (name) => { report.steps.push(name); };

async function shoot(page, name) {
  for (const [label, size] of [['laptop', { width: 1366, height: 850 }], ['phone', { width: 390, height: 844 }]]) {
    await page.setViewportSize(size);
    const file = path.join(shots, `${name}-${label}.png`);
    await page.screenshot({ path: file, fullPage: true });
    report.screenshots.push(file);
  }
  await page.setViewportSize({ width: 1366, height: 850 });
}

(async () => {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
  const page = await browser.newPage({ viewport: { width: 1366, height: 850 } });
  page.setDefaultTimeout(90000);
  const consoleErrors = [];
  page.on('console', m => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', e => consoleErrors.push(String(e)));
  page.on('dialog', d => d.accept());

  // Cut the connection once, in the middle of the second PATCH: tus-js-client
  // must ask the server for the offset and go on from there.
  let patches = 0;
  await page.route(clipURL, route => route.fulfill({ path: clipPath, contentType: 'video/mp4' }));
  await page.route('**/api/uploads/**', async (route) => {
    const req = route.request();
    if (req.method() === 'PATCH') {
      patches++;
      const len = (req.postDataBuffer() || Buffer.alloc(0)).length;
      if (patches === 2 && !report.cut) {
        report.cut = true;
        return route.abort('connectionreset');
      }
      report.patchBytes += len;
    }
    return route.continue();
  });

  try {
    // The bar's value, as the page shows it, reported to this side (the page
    // navigates away as soon as the upload completes).
    await page.exposeFunction('reportPct', pct => { report.uploadMaxPct = Math.max(report.uploadMaxPct, pct); });
    await page.goto(base + '/');
    await shoot(page, '1-upload');
    // Drop the file on the drop zone: a real drop event with a DataTransfer.
    await page.evaluate(async ([url, name]) => {
      const buf = await (await fetch(url)).arrayBuffer();
      const dt = new DataTransfer();
      dt.items.add(new File([buf], name, { type: 'video/mp4' }));
      new MutationObserver(() => {
        window.reportPct(Number(document.getElementById('bar').getAttribute('aria-valuenow')));
      }).observe(document.getElementById('bar'), { attributes: true });
      const drop = document.getElementById('drop');
      drop.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      drop.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, [clipURL, clipName]);
    step('dropped');
    await page.waitForFunction(() => Number(document.getElementById('bar').getAttribute('aria-valuenow')) > 0);
    await shoot(page, '2-uploading');
    await page.waitForURL(/\/videos\/[a-z2-7]{24}$/);
    report.videoID = page.url().split('/').pop();
    step('uploaded');

    // Processing progress, live.
    await page.waitForFunction(() => [...document.querySelectorAll('#steps li')].some(li => li.className === 'active' || li.className === 'done'));
    report.processingSeen = await page.evaluate(() => document.getElementById('pct').textContent);
    await shoot(page, '3-processing');
    step('processing');

    // The player appears and plays.
    await page.waitForFunction(() => !document.getElementById('watch').hidden);
    await page.evaluate(() => { const v = document.getElementById('video'); v.muted = true; v.play(); });
    await page.waitForFunction(() => document.getElementById('video').currentTime > 1);
    step('playing');
    // Switch quality to every level through the selector.
    const levels = await page.evaluate(() => document.querySelectorAll('#quality option').length - 1);
    report.levels = levels;
    for (let i = 0; i < levels; i++) {
      await page.selectOption('#quality', String(i));
      await page.waitForFunction(i => document.getElementById('video').dataset.level === String(i), i);
      const now = await page.evaluate(() => document.getElementById('video').currentTime);
      await page.waitForFunction(t => document.getElementById('video').currentTime > t + 0.3 || document.getElementById('video').ended, now);
    }
    step('switched');
    // Seek previews: hover the seek bar, if the video has a storyboard.
    if (await page.evaluate(() => !document.getElementById('scrub').hidden)) {
      const box = await page.locator('#seek').boundingBox();
      await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
      report.preview = await page.evaluate(() => getComputedStyle(document.getElementById('preview')).backgroundImage);
    }
    await shoot(page, '4-player');
    // Audio languages: the menu lists the tracks; the viewer's choice is
    // kept for the next visit.
    await page.waitForFunction(() => !document.getElementById('audio').hidden && document.querySelectorAll('#audio option').length > 1);
    report.audioTracks = await page.evaluate(() => [...document.querySelectorAll('#audio option')].map(o => o.textContent));
    await page.selectOption('#audio', '1');
    await page.waitForFunction(() => window.hls.audioTrack === 1);
    await page.reload();
    await page.waitForFunction(() => window.hls && window.hls.audioTracks.length > 1);
    await page.waitForFunction(() => window.hls.audioTrack === 1 && document.getElementById('audio').value === '1');
    step('audio remembered');
    // Subtitles: "Off" and the tracks; the choice is kept too.
    await page.waitForFunction(() => !document.getElementById('subtitles').hidden && document.querySelectorAll('#subtitles option').length > 1);
    report.subtitleTracks = await page.evaluate(() => [...document.querySelectorAll('#subtitles option')].map(o => o.textContent));
    await page.selectOption('#subtitles', '0');
    await page.waitForFunction(() => window.hls.subtitleTrack === 0);
    step('subtitles on');
    await page.reload();
    await page.waitForFunction(() => window.hls && window.hls.subtitleTracks.length > 0);
    await page.waitForFunction(() => window.hls.subtitleTrack === 0 && document.getElementById('subtitles').value === '0');
    step('subtitles remembered');

    // The library lists it; delete it from there.
    await page.goto(base + '/videos');
    await page.waitForSelector(`article[data-id="${report.videoID}"]`);
    await shoot(page, '5-library');
    await page.click(`article[data-id="${report.videoID}"] button.danger`);
    await page.waitForSelector(`article[data-id="${report.videoID}"]`, { state: 'detached' });
    step('deleted');
    await shoot(page, '6-library-after-delete');
    report.ok = true;
  } catch (e) {
    report.ok = false;
    report.error = e.message.split('\n')[0];
    await page.screenshot({ path: path.join(shots, 'failure.png'), fullPage: true }).catch(() => {});
  }
  report.consoleErrors = consoleErrors;
  console.log(JSON.stringify(report));
  await browser.close();
  process.exit(report.ok ? 0 : 1);
})().catch(e => { console.error(e); process.exit(2); });
