package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/hlsd/hlsd/pkg/conformance"
)

const checkUsage = `Usage: hlsd check [flags] MASTER_URL

Checks a published video over HTTP against RFC 8216 and Apple's HLS authoring
spec, rule by rule, measuring every segment with ffprobe and ffmpeg. Prints
one line per broken rule and exits 1 if there is any (0 if none, 2 if the
check could not run).

Flags:
`

// Check runs "hlsd check": the conformance suite against one master playlist.
func Check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hlsd check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.Int("target-duration", 6, "the expected EXT-X-TARGETDURATION in seconds")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	mustOnly := fs.Bool("must-only", false, "exit 1 only for MUST-level findings")
	fs.Usage = func() {
		fmt.Fprint(stderr, checkUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	report, err := conformance.Check(ctx, fs.Arg(0), conformance.Options{TargetDuration: *target})
	if err != nil {
		fmt.Fprintln(stderr, "hlsd check:", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(report)
	} else {
		for _, f := range report.Findings {
			fmt.Fprintln(stdout, f)
		}
		fmt.Fprintf(stdout, "%d variants, %d I-frame playlists, %d segments checked against %d rules: %d findings (%d MUST)\n",
			report.Variants, report.IFrames, report.Segments, len(conformance.Rules), len(report.Findings), len(report.MustFindings()))
	}
	if len(report.MustFindings()) > 0 || (!*mustOnly && report.Failed()) {
		return 1
	}
	return 0
}
