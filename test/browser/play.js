// Plays HLS streams in headless Chromium with the player of a page: starts
// playback, switches to every level in turn (each must play on), seeks near
// the end and waits for the end. Fails on any fatal player error or media
// error.
//
//   node play.js PAGE_URL MASTER_URL...
//
// PAGE_URL serves one of the player pages with node_modules beside it (the Go
// test does that): page.html (hls.js), shaka.html (Shaka Player) or
// videojs.html (video.js). Each defines start(url), report, media() (the
// <video>) and player: count(), select(i), active(), and switchesOnLoad if
// it changes level only when it loads a segment; where the player lists
// audio tracks apart from levels, audioCount(), selectAudio(i) and
// activeAudio() too; where it shows subtitles, subtitleCount(),
// showSubtitles(i) and activeCue() ({text, start, end} of the cue shown, or
// null): play.js turns the first track on, plays from 0.5 s and notes the
// first cue shown as cue={...}.
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
      m => window.report.fatal || (window.media() && (window.media().currentTime > m || window.media().ended)), t);
    let ok = true;
    let note = '';
    let stage = 'playing the first seconds';
    try {
      await playsPast(3); // several seconds of real playback first
      const levels = await page.evaluate(() => window.player.count());
      for (let i = 0; i < levels; i++) {
        stage = `switching to level ${i}`;
        // An ended video stays paused (a short clip can end while the
        // levels before were played), and near the end a player has
        // nothing left to load, and some (VHS, hls.js:
        // player.switchesOnLoad) switch only when they load: go back to the
        // start first, as a viewer pressing play would.
        await page.evaluate(() => {
          const m = window.media();
          const nearEnd = window.player.switchesOnLoad && m.duration - m.currentTime < 3;
          if (!m.ended && !nearEnd) return;
          m.currentTime = 0;
          if (m.paused) m.play();
        });
        await page.evaluate(i => window.player.select(i), i);
        await page.waitForFunction(i => window.player.active() === i || window.report.fatal, i);
        if (!(await page.evaluate(i => window.report.switched.includes(i), i))) {
          await page.evaluate(i => window.report.switched.push(i), i);
        }
        stage = `playing on at level ${i}`;
        const now = await page.evaluate(() => window.media().currentTime);
        await playsPast(now + 1);
      }
      // Every audio track of the group in turn, where the player keeps
      // them apart from the levels (hls.js, video.js; Shaka's variants
      // pair each level with each track, so the levels cover them).
      const audios = await page.evaluate(() => (window.player.audioCount ? window.player.audioCount() : 0));
      for (let i = 0; audios > 1 && i < audios; i++) {
        stage = `switching to audio track ${i}`;
        await page.evaluate(() => {
          const m = window.media();
          if (m.ended || m.duration - m.currentTime < 3) m.currentTime = 0;
          if (m.paused) m.play();
        });
        await page.evaluate(i => window.player.selectAudio(i), i);
        await page.waitForFunction(i => window.player.activeAudio() === i || window.report.fatal, i);
        stage = `playing on with audio track ${i}`;
        const now = await page.evaluate(() => window.media().currentTime);
        await playsPast(now + 1);
        note += `audio${i} `;
      }
      const subtitles = await page.evaluate(() => (window.player.subtitleCount ? window.player.subtitleCount() : 0));
      if (subtitles > 0) {
        stage = 'showing the first subtitle track';
        await page.evaluate(() => {
          window.player.showSubtitles(0);
          const m = window.media();
          m.currentTime = 0.5;
          if (m.paused) m.play();
        });
        const cue = await page.waitForFunction(() => window.player.activeCue() || (window.report.fatal ? { fatal: window.report.fatal } : null));
        note += `cue=${JSON.stringify(await cue.jsonValue())} `;
      }
      stage = 'seeking to the end';
      const duration = await page.evaluate(() => window.media().duration);
      // On a loaded machine the level switches can take longer than the
      // clip: it may have ended, and an ended video stays paused after a
      // seek. Play on from there, as a viewer pressing play would.
      await page.evaluate(d => {
        const m = window.media();
        m.currentTime = Math.max(0, d - 2);
        if (m.paused) m.play();
      }, duration);
      // A loaded CI machine (race-enabled tests encoding beside Chromium)
      // can take long to refill the buffer after the seek: a minute.
      await page.waitForFunction(() => window.media().ended || window.report.fatal, null, { timeout: 60000 });
      note += `duration=${duration.toFixed(3)}`;
    } catch (e) {
      ok = false;
      // Where the media stood and what it had buffered say why it stalled.
      const at = await page.evaluate(() => {
        const m = window.media();
        if (!m) return null;
        const b = [];
        for (let i = 0; i < m.buffered.length; i++) b.push(`${m.buffered.start(i).toFixed(3)}-${m.buffered.end(i).toFixed(3)}`);
        return `${m.currentTime} s, buffered ${b.join(',') || 'nothing'}, readyState ${m.readyState}, paused ${m.paused}, seeking ${m.seeking}`;
      }).catch(() => null);
      note = `${stage} (at ${at}): ${e.message.split('\n')[0]}`;
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
