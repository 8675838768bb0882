package playback

import (
	"strings"
	"testing"
)

func TestRewriteMPD(t *testing.T) {
	in := `<MPD><Period><AdaptationSet><Representation id="360p">` +
		`<SegmentTemplate media="$RepresentationID$/seg_$Number%05d$.m4s" initialization="$RepresentationID$/init.mp4?v=1&amp;token=old" startNumber="0">` +
		`</SegmentTemplate></Representation><Representation id="x"><SegmentTemplate media="https://cdn.example/seg.m4s" initialization="//other/init.mp4"/>` +
		`</Representation></AdaptationSet></Period></MPD>`
	out, err := RewriteMPD([]byte(in), "T0k-en")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`media="$RepresentationID$/seg_$Number%05d$.m4s?token=T0k-en"`,
		`initialization="$RepresentationID$/init.mp4?v=1&amp;token=T0k-en"`, // the old token replaced, XML kept escaped
		`media="https://cdn.example/seg.m4s"`,                               // another origin: never the token
		`initialization="//other/init.mp4"`,
		`startNumber="0"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
	if _, err := RewriteMPD([]byte(in), "bad token"); err != ErrBadTokenValue {
		t.Errorf("a token with a space: %v", err)
	}
	// Applying it twice changes nothing more.
	again, _ := RewriteMPD(out, "T0k-en")
	if string(again) != string(out) {
		t.Errorf("a second rewrite changed it:\n%s", again)
	}
}
