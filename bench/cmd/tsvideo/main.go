// Command tsvideo writes the video of an MPEG-TS file hlsd's encoder made
// as a raw elementary stream, the PES payloads one after another: for AV1,
// which FFmpeg 5.1 writes into MPEG-TS but cannot read back from it, an
// OBU stream that ffmpeg's obu demuxer reads (bench/rate-control.sh).
//
//	tsvideo IN.ts OUT.obu
package main

import (
	"fmt"
	"os"

	"github.com/hlsd/hlsd/pkg/mpegts"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: tsvideo IN.ts OUT")
		os.Exit(2)
	}
	in, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(err)
	}
	var out []byte
	// A file of whole packets that starts with the PAT and PMT, as ffmpeg
	// writes it: EachPES reads it like a segment.
	if err := mpegts.EachPES(in[:len(in)/mpegts.PacketSize*mpegts.PacketSize], func(p mpegts.PES) error {
		if p.Video {
			out = append(out, p.Payload...)
		}
		return nil
	}); err != nil {
		fail(err)
	}
	if err := os.WriteFile(os.Args[2], out, 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tsvideo:", err)
	os.Exit(2)
}
