// Plays HLS streams with hls.js in headless Chromium: starts playback, switches
// to every level in turn (each must play on), seeks near the end and waits for
// the end. Fails on any fatal hls.js error or media error.
//
//   node play.js PAGE_URL MASTER_URL...
//
// PAGE_URL serves page.html with hls.js beside it (the Go test does that).
const { chromium } = require('playwright-core');

const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

(async () => {
  const [pageURL, ...urls] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    // The flags that keep Chromium off the network on a closed machine.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
  let failed = 0;
  for (const url of urls) {
    const page = await browser.newPage();
    page.setDefaultTimeout(30000);
    await page.goto(pageURL);
    await page.evaluate(u => start(u), url);
    const playsPast = async (t) => page.waitForFunction(
      m => document.getElementById('v').currentTime > m || document.getElementById('v').ended || window.report.fatal, t);
    let ok = true;
    let note = '';
    try {
      await playsPast(3); // several seconds of real playback first
      const levels = await page.evaluate(() => hls.levels.length);
      for (let i = 0; i < levels; i++) {
        await page.evaluate(i => { hls.currentLevel = i; }, i);
        await page.waitForFunction(i => window.report.switched.includes(i) || window.report.fatal, i);
        const now = await page.evaluate(() => document.getElementById('v').currentTime);
        await playsPast(now + 1);
      }
      const duration = await page.evaluate(() => document.getElementById('v').duration);
      await page.evaluate(d => { document.getElementById('v').currentTime = Math.max(0, d - 2); }, duration);
      await page.waitForFunction(() => document.getElementById('v').ended || window.report.fatal);
      note = `duration=${duration.toFixed(3)}`;
    } catch (e) {
      ok = false;
      note = e.message.split('\n')[0];
    }
    const r = await page.evaluate(() => window.report);
    if (r.fatal || r.mediaError) ok = false;
    if (!ok) failed++;
    console.log(JSON.stringify({ url, ok, levels: r.levels, switched: r.switched, errors: r.errors, mediaError: r.mediaError, note }));
    await page.close();
  }
  await browser.close();
  process.exit(failed ? 1 : 0);
})().catch(e => { console.error(e); process.exit(2); });
