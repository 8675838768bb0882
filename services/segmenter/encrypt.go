package segmenter

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"io"

	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/playlist"
	"github.com/hlsd/hlsd/pkg/profiles"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/video"
)

// segmentCipher returns the block cipher a job's segments are encrypted
// with, or nil for a job whose segments stay in the clear.
func (sg *Segmenter) segmentCipher(ctx context.Context, job jobs.SegmentJob) (cipher.Block, error) {
	switch job.Encryption {
	case "", profiles.EncryptionNone:
		return nil, nil
	case profiles.EncryptionAES128:
	default:
		return nil, queue.Permanent(video.CodeInternal, "The video asks for an encryption hlsd does not know; the error was logged.",
			fmt.Errorf("segmenter: encryption %q", job.Encryption))
	}
	key := layout.EncryptionKeyKey(job.VideoID)
	rc, err := sg.Store.Get(ctx, key, 0, -1)
	if err != nil {
		// The encoder stores the key before it queues any segment job, so a
		// missing key is store trouble (or a video deleted meanwhile): retry.
		return nil, fmt.Errorf("segmenter: encryption key: %w", err)
	}
	defer rc.Close()
	k, err := io.ReadAll(io.LimitReader(rc, aes.BlockSize+1))
	if err != nil {
		return nil, fmt.Errorf("segmenter: encryption key: %w: %w", errStore, err)
	}
	if len(k) != aes.BlockSize {
		return nil, queue.Permanent(video.CodeInternal, "The video's encryption key is damaged; the error was logged.",
			fmt.Errorf("segmenter: %s holds %d bytes, not %d", key, len(k), aes.BlockSize))
	}
	return aes.NewCipher(k)
}

// encryptSegment encrypts one whole segment for METHOD=AES-128 (RFC 8216
// 4.3.2.4): AES-128-CBC with PKCS#7 padding (1 to 16 bytes, so the output is
// always longer than the input) and, as IV, the segment's media sequence
// number (playlist.SegmentIV), which the playlist leaves implicit. The same
// input always gives the same bytes, so a redelivered job rewrites identical
// segments.
func encryptSegment(block cipher.Block, seq uint64, data []byte) []byte {
	pad := aes.BlockSize - len(data)%aes.BlockSize
	out := make([]byte, len(data)+pad)
	copy(out, data)
	for i := len(data); i < len(out); i++ {
		out[i] = byte(pad)
	}
	iv := playlist.SegmentIV(seq)
	cipher.NewCBCEncrypter(block, iv[:]).CryptBlocks(out, out)
	return out
}
