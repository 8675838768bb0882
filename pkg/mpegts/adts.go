package mpegts

import "fmt"

const (
	adtsHeaderLen      = 7 // without the optional CRC, which frame_length covers anyway
	samplesPerAACBlock = 1024
)

// adtsSampleRates maps sampling_frequency_index to Hz (ISO/IEC 14496-3).
var adtsSampleRates = [...]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// adtsInfo is what we take from the first ADTS header.
type adtsInfo struct {
	objectType int // audio object type = profile + 1 (2 = AAC-LC)
	sampleRate int // Hz, 0 if the index is reserved
	channels   int // channel_configuration: 1 mono, 2 stereo, ... (0: in the stream)
}

func (a adtsInfo) codec() string { return fmt.Sprintf("mp4a.40.%d", a.objectType) }

func parseADTSHeader(h []byte) adtsInfo {
	info := adtsInfo{objectType: int(h[2]>>6) + 1, channels: int(h[2]&1)<<2 | int(h[3]>>6)}
	if i := int(h[2] >> 2 & 0x0f); i < len(adtsSampleRates) {
		info.sampleRate = adtsSampleRates[i]
	}
	return info
}

// adtsScanner walks the ADTS frames of one PES payload as it arrives in
// pieces, counting the samples it carries. ffmpeg packs ~15 AAC frames into
// one PES, so a PES's PTS alone does not say where the audio ends.
type adtsScanner struct {
	hdr     [adtsHeaderLen]byte
	n       int  // header bytes collected
	skip    int  // bytes left in the current frame
	samples int  // samples in the complete frames seen
	first   bool // hdr held a header: info is valid
	info    adtsInfo
	broken  bool // lost sync: stop counting
}

func (a *adtsScanner) reset() {
	a.n, a.skip, a.samples, a.broken = 0, 0, 0, false
}

// feed consumes the next piece of the PES payload.
func (a *adtsScanner) feed(b []byte) {
	for len(b) > 0 && !a.broken {
		if a.skip > 0 {
			n := min(a.skip, len(b))
			b = b[n:]
			a.skip -= n
			continue
		}
		n := copy(a.hdr[a.n:], b)
		a.n += n
		b = b[n:]
		if a.n < adtsHeaderLen {
			return
		}
		a.n = 0
		h := a.hdr[:]
		// 12-bit syncword, layer 00.
		if h[0] != 0xff || h[1]&0xf6 != 0xf0 {
			a.broken = true
			return
		}
		frameLen := int(h[3]&0x03)<<11 | int(h[4])<<3 | int(h[5])>>5
		if frameLen < adtsHeaderLen {
			a.broken = true
			return
		}
		if !a.first {
			a.first, a.info = true, parseADTSHeader(h)
		}
		a.samples += samplesPerAACBlock * (int(h[6]&0x03) + 1) // number_of_raw_data_blocks_in_frame + 1
		a.skip = frameLen - adtsHeaderLen
	}
}
