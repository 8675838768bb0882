// Command s3put is the anchor of bench/upload-rss.sh: it PUTs a file straight
// into S3/MinIO with minio-go, so the gateway's upload throughput can be
// stated as a ratio against a direct upload measured in the same run.
//
//	s3put -endpoint 127.0.0.1:9000 -bucket hlsd -mkbucket               # create the bucket, retrying while MinIO starts
//	s3put -endpoint 127.0.0.1:9000 -bucket hlsd -key k -file f          # PUT f with its known length
//	s3put -endpoint 127.0.0.1:9000 -bucket hlsd -key k -stat            # print the object's size
//	s3put -endpoint 127.0.0.1:9000 -bucket hlsd -key k -rm              # delete it
//
// Credentials come from S3PUT_ACCESS_KEY and S3PUT_SECRET_KEY. The PUT prints
// one line of key=value pairs: bytes, seconds (PutObject only), mib_per_s and
// maxrss_kib (this process's peak RSS).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func main() {
	endpoint := flag.String("endpoint", "127.0.0.1:9000", "MinIO host:port (plain http)")
	bucket := flag.String("bucket", "hlsd", "bucket")
	key := flag.String("key", "", "object key")
	file := flag.String("file", "", "file to PUT")
	partSize := flag.Uint64("part-size", 16<<20, "multipart part size in bytes (0: minio-go's default); 16 MiB is what hlsd's S3 store uses")
	threads := flag.Uint("threads", 1, "parts uploaded at once (0: minio-go's default of 4); hlsd's S3 store uses 1")
	unknown := flag.Bool("unknown-size", false, "pass the length as -1, as a streaming upload of unknown length does")
	stat := flag.Bool("stat", false, "print the size of -key and exit")
	rm := flag.Bool("rm", false, "delete -key and exit")
	mkbucket := flag.Bool("mkbucket", false, "create -bucket (retrying for up to -wait while MinIO starts) and exit")
	wait := flag.Duration("wait", 60*time.Second, "how long -mkbucket retries")
	flag.Parse()

	client, err := minio.New(*endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(os.Getenv("S3PUT_ACCESS_KEY"), os.Getenv("S3PUT_SECRET_KEY"), ""),
		Secure: false,
	})
	if err != nil {
		fail(err)
	}
	ctx := context.Background()

	switch {
	case *mkbucket:
		fail(makeBucket(ctx, client, *bucket, *wait))
	case *stat:
		need(*key, "-key")
		oi, err := client.StatObject(ctx, *bucket, *key, minio.StatObjectOptions{})
		if err != nil {
			fail(err)
		}
		fmt.Println(oi.Size)
	case *rm:
		need(*key, "-key")
		fail(client.RemoveObject(ctx, *bucket, *key, minio.RemoveObjectOptions{}))
	default:
		need(*key, "-key")
		need(*file, "-file")
		fail(put(ctx, client, *bucket, *key, *file, *partSize, *threads, *unknown))
	}
}

func put(ctx context.Context, client *minio.Client, bucket, key, path string, partSize uint64, threads uint, unknown bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	var r io.Reader = f // an *os.File: minio-go reads each part with ReadAt, no part buffer
	if unknown {
		size = -1
		r = struct{ io.Reader }{f} // a bare stream, as the gateway's multipart part is
	}
	start := time.Now()
	info, err := client.PutObject(ctx, bucket, key, r, size, minio.PutObjectOptions{
		PartSize:    partSize,
		NumThreads:  threads,
		ContentType: "application/octet-stream",
	})
	secs := time.Since(start).Seconds()
	if err != nil {
		return err
	}
	if info.Size != fi.Size() {
		return fmt.Errorf("stored %d bytes, the file has %d", info.Size, fi.Size())
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru) // Maxrss is in KiB on Linux
	fmt.Printf("bytes=%d seconds=%.3f mib_per_s=%.1f maxrss_kib=%d\n",
		info.Size, secs, float64(info.Size)/(1<<20)/secs, ru.Maxrss)
	return nil
}

// makeBucket creates the bucket, retrying while MinIO is still starting (it
// reports ready before it accepts S3 calls).
func makeBucket(ctx context.Context, client *minio.Client, bucket string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{})
		if err == nil {
			return nil
		}
		code := minio.ToErrorResponse(err).Code
		if code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("create bucket %s: %w", bucket, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func need(v, name string) {
	if v == "" {
		fail(errors.New(name + " is required"))
	}
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3put:", err)
		os.Exit(1)
	}
}
