// activeCue is the cue a list of text tracks shows now ({text, start, end}
// on the media's clock), with origin: where the media's buffer starts (the
// first frame of audio and video both, the video's time 0 on that clock).
// null when none shows. Each player page's player.activeCue() calls it on
// the tracks its player draws cues from.
function activeCue(list) {
  for (let i = 0; i < list.length; i++) {
    const t = list[i];
    if (t.mode === 'showing' && t.activeCues && t.activeCues.length) {
      const c = t.activeCues[0], m = window.media();
      return { text: c.text, start: c.startTime, end: c.endTime, origin: m.buffered.length ? m.buffered.start(0) : 0 };
    }
  }
  return null;
}
