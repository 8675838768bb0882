package conformance

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/grafov/m3u8"
)

// segKey is how one segment of a media playlist is encrypted: nil for a
// segment in the clear.
type segKey struct {
	block cipher.Block
	iv    [aes.BlockSize]byte
}

// segmentKeys works out, for each segment of a media playlist at u, the key
// and IV it is encrypted with (RFC 8216 4.3.2.4: an EXT-X-KEY applies to
// every segment after it until the next one), fetching each key once. ok is
// false when a segment cannot be decrypted at all (already reported): its
// measurements would only repeat that.
//
// grafov/m3u8 attaches an EXT-X-KEY to the one segment it precedes, so the
// key in force is carried forward here.
func (c *checker) segmentKeys(ctx context.Context, u *url.URL, mp *m3u8.MediaPlaylist, segs []*m3u8.MediaSegment) ([]*segKey, bool, error) {
	uri := u.String()
	keys := make([]*segKey, len(segs))
	blocks := map[string]cipher.Block{} // by resolved key URI
	var cur *m3u8.Key
	for i, s := range segs {
		if s.Key != nil {
			cur = s.Key
		}
		if cur == nil || strings.EqualFold(cur.Method, "NONE") {
			continue
		}
		if cur.Method != "AES-128" {
			c.add(RuleKey, uri, "segment %d: METHOD=%s; this checker decrypts AES-128 only and cannot measure it", i, cur.Method)
			return nil, false, nil
		}
		if cur.URI == "" {
			c.add(RuleKey, uri, "segment %d: an AES-128 EXT-X-KEY without URI", i)
			return nil, false, nil
		}
		k := &segKey{}
		if cur.IV != "" {
			h, found := strings.CutPrefix(cur.IV, "0x")
			if !found {
				h, found = strings.CutPrefix(cur.IV, "0X")
			}
			b, err := hex.DecodeString(h)
			if !found || err != nil || len(b) != aes.BlockSize {
				c.add(RuleKey, uri, "IV %q is not 0x and 32 hexadecimal digits", cur.IV)
				return nil, false, nil
			}
			copy(k.iv[:], b)
		} else {
			// RFC 8216 5.2: the media sequence number, big-endian, in 128 bits.
			binary.BigEndian.PutUint64(k.iv[8:], mp.SeqNo+uint64(i))
		}
		ku := u.ResolveReference(mustParse(cur.URI)).String()
		block, seen := blocks[ku]
		if !seen {
			var err error
			if block, err = c.fetchKey(ctx, uri, ku); err != nil {
				if errors.Is(err, errSkip) {
					return nil, false, nil
				}
				return nil, false, err
			}
			blocks[ku] = block
		}
		k.block = block
		keys[i] = k
	}
	return keys, true, nil
}

// fetchKey GETs an AES-128 key, which must be exactly 16 bytes.
func (c *checker) fetchKey(ctx context.Context, playlistURI, keyURI string) (cipher.Block, error) {
	b, _, err := c.get(ctx, keyURI, "", "identity", 1<<10)
	if err != nil {
		if errors.Is(err, errSkip) {
			c.add(RuleKey, playlistURI, "the key %s cannot be fetched, so no segment can be decrypted", keyURI)
		}
		return nil, err
	}
	if len(b) != aes.BlockSize {
		c.add(RuleKey, playlistURI, "the key %s has %d bytes, not 16", keyURI, len(b))
		return nil, errSkip
	}
	return aes.NewCipher(b)
}

// decrypt undoes METHOD=AES-128 on one segment: AES-128-CBC over the whole
// segment, then PKCS#7 padding off. The result must look like the start of
// an MPEG-TS stream: a sync byte, and — if the first packet carries the PAT
// or the SDT, as FFmpeg's and hlsd's segments do — a section whose CRC
// holds, which is what tells a wrong IV (it garbles only the first block,
// often only its last bytes) from the right one.
func decrypt(k *segKey, data []byte) ([]byte, error) {
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of 16-byte blocks", len(data))
	}
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(k.block, k.iv[:]).CryptBlocks(out, data)
	pad := int(out[len(out)-1])
	if pad < 1 || pad > aes.BlockSize {
		return nil, fmt.Errorf("PKCS#7 padding byte %d is not 1 to 16 (wrong key?)", pad)
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, fmt.Errorf("the last %d bytes are not PKCS#7 padding (wrong key?)", pad)
		}
	}
	out = out[:len(out)-pad]
	if len(out) == 0 || out[0] != 0x47 {
		return nil, errors.New("decrypted, it does not start with an MPEG-TS sync byte (wrong key or IV?)")
	}
	if err := firstSectionCRC(out); err != nil {
		return nil, fmt.Errorf("decrypted, %w (wrong IV?)", err)
	}
	return out, nil
}

// firstSectionCRC checks the CRC of the PSI section starting in the first
// TS packet, when that packet is the PAT (PID 0) or SDT (PID 0x11) and the
// section fits in it.
func firstSectionCRC(ts []byte) error {
	if len(ts) < 188 {
		return nil
	}
	p := ts[:188]
	pid := int(p[1]&0x1f)<<8 | int(p[2])
	pusi := p[1]&0x40 != 0
	if (pid != 0 && pid != 0x11) || !pusi {
		return nil
	}
	off := 4
	if afc := p[3] >> 4 & 3; afc == 2 || afc == 0 {
		return nil // no payload
	} else if afc == 3 {
		off += 1 + int(p[4])
	}
	if off >= 188 {
		return nil
	}
	off += 1 + int(p[off]) // pointer_field
	if off+3 > 188 {
		return nil
	}
	n := int(p[off+1]&0x0f)<<8 | int(p[off+2])
	end := off + 3 + n
	if n < 4 || end > 188 {
		return nil
	}
	if crc32MPEG(p[off:end]) != 0 {
		return fmt.Errorf("the first packet's %s section fails its CRC", map[int]string{0: "PAT", 0x11: "SDT"}[pid])
	}
	return nil
}

// crc32MPEG is CRC-32/MPEG-2; over a whole section, CRC field included, it is 0.
func crc32MPEG(b []byte) uint32 {
	crc := uint32(0xffffffff)
	for _, v := range b {
		crc ^= uint32(v) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
