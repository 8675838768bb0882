package conformance_test

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/pkg/conformance"
	"github.com/hlsd/hlsd/pkg/testutil"
)

const testKey = "2b7e151628aed2a6abf7158809cf4f3c"

// ffmpegEncryptedHLS is ffmpegHLS with FFmpeg's AES-128 encryption
// (-hls_key_info_file): the key served beside the playlist as enc.key, and
// iv (32 hex digits) as the explicit IV, or FFmpeg's choice if "".
func ffmpegEncryptedHLS(t *testing.T, iv string) string {
	t.Helper()
	keyDir := t.TempDir()
	keyPath := testutil.WriteFile(t, keyDir, "enc.key", mustHex(t, testKey))
	info := "enc.key\n" + keyPath + "\n"
	if iv != "" {
		info += iv + "\n"
	}
	infoPath := testutil.WriteFile(t, keyDir, "keyinfo", []byte(info))
	dir := ffmpegHLS(t, "-hls_key_info_file", infoPath)
	testutil.WriteFile(t, dir, "enc.key", mustHex(t, testKey))
	return dir
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// encryptInPlace encrypts every segment of a clear ffmpegHLS directory the
// way hlsd does (whole segment, PKCS#7, IV = media sequence number, starting
// at firstSeq), and announces it with an EXT-X-KEY without IV.
func encryptInPlace(t *testing.T, dir string, firstSeq uint64) {
	t.Helper()
	block, err := aes.NewCipher(mustHex(t, testKey))
	if err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "seg_*.ts"))
	slices.Sort(segs)
	for i, p := range segs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		pad := aes.BlockSize - len(b)%aes.BlockSize
		for range pad {
			b = append(b, byte(pad))
		}
		var iv [16]byte
		binary.BigEndian.PutUint64(iv[8:], firstSeq+uint64(i))
		cipher.NewCBCEncrypter(block, iv[:]).CryptBlocks(b, b)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WriteFile(t, dir, "enc.key", mustHex(t, testKey))
	edit(t, dir, "index.m3u8", "#EXT-X-MEDIA-SEQUENCE:0\n", "#EXT-X-MEDIA-SEQUENCE:"+strconv.FormatUint(firstSeq, 10)+"\n#EXT-X-KEY:METHOD=AES-128,URI=\"enc.key\"\n")
}

// What FFmpeg's muxer output breaks anyway (TestFFmpegHLSMuxerFallsShort),
// served with gzip: an encrypted variant adds nothing to it, and loses the
// I-frame playlist rule, which it cannot meet.
var ffmpegBaseline = []string{"average-bandwidth", "frame-rate", "independent-segments", "peak-bandwidth", "video-range-present"}

func TestEncryptedHLSIsDecryptedAndMeasured(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		dir  func(t *testing.T) string
	}{
		{"FFmpeg, explicit IV", func(t *testing.T) string { return ffmpegEncryptedHLS(t, "0123456789abcdef0123456789abcdef") }},
		{"FFmpeg, its own IV", func(t *testing.T) string { return ffmpegEncryptedHLS(t, "") }},
		{"sequence-number IV from 0", func(t *testing.T) string { d := ffmpegHLS(t); encryptInPlace(t, d, 0); return d }},
		{"sequence-number IV from 1000", func(t *testing.T) string { d := ffmpegHLS(t); encryptInPlace(t, d, 1000); return d }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := tc.dir(t)
			index, _ := os.ReadFile(filepath.Join(dir, "index.m3u8"))
			seg, _ := os.ReadFile(filepath.Join(dir, "seg_000.ts"))
			if !strings.Contains(string(index), "#EXT-X-KEY:METHOD=AES-128") || len(seg)%16 != 0 || seg[0] == 0x47 {
				t.Fatalf("not encrypted:\n%s", index)
			}
			r := check(t, serve(t, dir, true)+"/master.m3u8", conformance.Options{TargetDuration: 2})
			if got := rules(r.Findings); !slices.Equal(got, ffmpegBaseline) {
				t.Errorf("rules broken:\n got %v\nwant %v", got, ffmpegBaseline)
			}
			if r.Variants != 1 || r.Segments != 4 {
				t.Errorf("checked %d variants, %d segments; want 1, 4", r.Variants, r.Segments)
			}
		})
	}
}

// Each way an encrypted stream can be broken is a MUST finding.
func TestEncryptionRulesFire(t *testing.T) {
	t.Parallel()
	const iv = "0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name   string
		seqIV  bool // encrypted by encryptInPlace, not FFmpeg
		break_ func(t *testing.T, dir string)
		want   string
	}{
		{name: "wrong key", want: "aes-128-decrypt", break_: func(t *testing.T, dir string) {
			testutil.WriteFile(t, dir, "enc.key", mustHex(t, "000102030405060708090a0b0c0d0e0f"))
		}},
		{name: "short key", want: "aes-128-key", break_: func(t *testing.T, dir string) {
			testutil.WriteFile(t, dir, "enc.key", mustHex(t, testKey)[:15])
		}},
		{name: "key as hex text", want: "aes-128-key", break_: func(t *testing.T, dir string) {
			testutil.WriteFile(t, dir, "enc.key", []byte(testKey))
		}},
		{name: "key missing", want: "aes-128-key", break_: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "enc.key")) }},
		{name: "segment cut short", want: "aes-128-decrypt", break_: func(t *testing.T, dir string) {
			p := filepath.Join(dir, "seg_001.ts")
			st, _ := os.Stat(p)
			os.Truncate(p, st.Size()-5)
		}},
		{name: "segment in the clear", want: "aes-128-decrypt", break_: func(t *testing.T, dir string) {
			// A whole number of blocks, but not ciphertext: the padding fails.
			b, _ := os.ReadFile(filepath.Join(ffmpegHLS(t), "seg_002.ts"))
			testutil.WriteFile(t, dir, "seg_002.ts", b[:len(b)/16*16])
		}},
		{name: "explicit IV off by one", want: "aes-128-decrypt", break_: func(t *testing.T, dir string) {
			edit(t, dir, "index.m3u8", "IV=0x"+iv, "IV=0x"+iv[:31]+"e")
		}},
		{name: "malformed IV", want: "aes-128-key", break_: func(t *testing.T, dir string) {
			edit(t, dir, "index.m3u8", "IV=0x"+iv, "IV=0x"+iv[:30])
		}},
		{name: "IV needs version 2", want: "version", break_: func(t *testing.T, dir string) {
			// Whole-second EXTINF and version 1: only the IV asks for more.
			p := filepath.Join(dir, "index.m3u8")
			b, _ := os.ReadFile(p)
			s := strings.ReplaceAll(string(b), "#EXTINF:2.000000,", "#EXTINF:2,")
			s = strings.Replace(s, "#EXT-X-VERSION:3", "#EXT-X-VERSION:1", 1)
			testutil.WriteFile(t, dir, "index.m3u8", []byte(s))
		}},
		{name: "media sequence not the IV", seqIV: true, want: "aes-128-decrypt", break_: func(t *testing.T, dir string) {
			edit(t, dir, "index.m3u8", "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-MEDIA-SEQUENCE:1")
		}},
		{name: "unsupported method", want: "aes-128-key", break_: func(t *testing.T, dir string) {
			edit(t, dir, "index.m3u8", "METHOD=AES-128", "METHOD=SAMPLE-AES")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var dir string
			if tc.seqIV {
				dir = ffmpegHLS(t)
				encryptInPlace(t, dir, 0)
			} else {
				dir = ffmpegEncryptedHLS(t, iv)
			}
			tc.break_(t, dir)
			r := check(t, serve(t, dir, true)+"/master.m3u8", conformance.Options{TargetDuration: 2})
			got := rules(r.Findings)
			if !slices.Contains(got, tc.want) {
				t.Errorf("rule %s did not fire; findings: %v", tc.want, got)
			}
			if slices.Contains(got, "i-frame-playlists") {
				t.Errorf("an encrypted variant was asked for an I-frame playlist")
			}
			for _, f := range r.MustFindings() {
				if f.Rule.ID == tc.want {
					return
				}
			}
			t.Errorf("%s is not a MUST finding", tc.want)
		})
	}
}

// ffmpeg itself agrees with the checker that the references play.
func TestFFmpegReadsTheEncryptedReferences(t *testing.T) {
	t.Parallel()
	dir := ffmpegHLS(t)
	encryptInPlace(t, dir, 0)
	srv := serve(t, dir, true)
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", srv+"/master.m3u8", "-map", "0", "-f", "null", "-").CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
}
