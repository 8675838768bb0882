package conformance

import (
	"bytes"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
)

// FuzzFragments feeds the fMP4 box reader (the checker reads any server's
// segments) arbitrary bytes: it may refuse them, never panic or hang.
func FuzzFragments(f *testing.F) {
	init := mp4.CreateEmptyInit()
	init.AddEmptyTrack(90000, "video", "und")
	var ib bytes.Buffer
	if err := init.Encode(&ib); err != nil {
		f.Fatal(err)
	}
	in := &fmp4Init{data: ib.Bytes(), trackID: 1, timescale: 90000, trex: init.Moov.Mvex.Trex}
	frag, err := mp4.CreateFragment(1, 1)
	if err != nil {
		f.Fatal(err)
	}
	frag.AddFullSample(mp4.FullSample{Sample: mp4.NewSample(mp4.SyncSampleFlags, 3000, 4, 0), DecodeTime: 216000, Data: []byte{0, 0, 0, 0}})
	var seg bytes.Buffer
	if err := frag.Encode(&seg); err != nil {
		f.Fatal(err)
	}
	f.Add(seg.Bytes())
	f.Add([]byte("\x00\x00\x00\x08moof"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tfdt, dur, _, err := fragments(in, b)
		if bytes.Equal(b, seg.Bytes()) && (err != nil || tfdt != 216000 || dur != 3000) {
			t.Errorf("the seed read as tfdt %d, duration %d: %v", tfdt, dur, err)
		}
	})
}
