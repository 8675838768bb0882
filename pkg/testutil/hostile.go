package testutil

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// Crafted sources that cost far more than they weigh, each a real attack
// once seen working on hlsd. Small and quick to make.

// GapMKV is 61 frames of 320x180 with a 66 s gap after the 30th (2.9 KB):
// a constant-rate encode fills the gap with copies.
func GapMKV(t testing.TB) string {
	return Generate(t, "gap.mkv", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-frames:v", "61",
		"-vf", "setpts='if(gte(N,30),PTS+66/TB,PTS)'", "-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "ultrafast")
}

// LongClaimMKV is 2 s of 320x180 whose container says it lasts an hour.
func LongClaimMKV(t testing.TB) string {
	t.Helper()
	p := Generate(t, "claim.mkv", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	// Segment Info's Duration (ID 0x4489), an 8-byte float in TimecodeScale
	// units (ms): rewrite it to an hour.
	i := bytes.Index(b, []byte{0x44, 0x89, 0x88})
	if i < 0 {
		t.Fatal("the Matroska file has no 8-byte Duration to rewrite")
	}
	binary.BigEndian.PutUint64(b[i+3:], math.Float64bits(3600e3))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// GrowingTS is one transport stream (named .mp4, as an attacker would)
// with 6 s of 320x180 and then frames of 8192x8192: a probe sees only the
// small ones.
func GrowingTS(t testing.TB) string {
	t.Helper()
	small := Generate(t, "small.ts", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25")
	big := Generate(t, "big.ts", "-f", "lavfi", "-i", "color=c=gray:size=8192x8192:rate=25", "-frames:v", "3", "-c:v", "libx264", "-preset", "ultrafast",
		"-output_ts_offset", "6")
	var out []byte
	for _, p := range []string{small, big} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	p := filepath.Join(t.TempDir(), "growing.mp4")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// PixelBomb is one 8192x8192 frame (under 200 KB): 64 megapixels to
// decode.
func PixelBomb(t testing.TB) string {
	return Generate(t, "bomb.mkv", "-f", "lavfi", "-i", "color=c=gray:size=8192x8192:rate=1", "-frames:v", "1", "-c:v", "libx264", "-preset", "ultrafast")
}

// CanvasGIF is about a kilobyte: 60 frames of one pixel on a 7680x4320
// canvas, which a decoder expands to the whole canvas each.
func CanvasGIF(t testing.TB) string {
	t.Helper()
	g := &gif.GIF{Config: image.Config{Width: 7680, Height: 4320, ColorModel: color.Palette{color.Black, color.White}}}
	for i := 0; i < 60; i++ {
		img := image.NewPaletted(image.Rect(0, 0, 1, 1), color.Palette{color.Black, color.White})
		img.SetColorIndex(0, 0, uint8(i%2))
		g.Image = append(g.Image, img)
		g.Delay = append(g.Delay, 2)
	}
	p := filepath.Join(t.TempDir(), "canvas.gif")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := gif.EncodeAll(f, g); err != nil {
		t.Fatal(err)
	}
	return p
}
