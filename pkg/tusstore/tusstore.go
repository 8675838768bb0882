// Package tusstore builds the stores unfinished tus uploads are kept in:
// tusd's filestore with a file locker on disk (Files), or its s3store in
// the bucket of an S3 object store (S3). The wiring chooses one, as it
// chooses the object store, and hands it to the gateway.
package tusstore

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tus/tusd/v2/pkg/filelocker"
	"github.com/tus/tusd/v2/pkg/filestore"
	tushandler "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
	"github.com/tus/tusd/v2/pkg/s3store"

	"github.com/hlsd/hlsd/pkg/store"
)

// Store is where unfinished uploads are kept: tusd's data store and locker
// (Composer), and a way to list them for the expiry sweep.
type Store struct {
	Composer *tushandler.StoreComposer
	// Pending lists the unfinished uploads and when each was created.
	Pending func(ctx context.Context) ([]Upload, error)
	// Where names the place, for errors and logs.
	Where string
}

// Upload is one unfinished upload.
type Upload struct {
	ID      string
	Created time.Time
}

// Files keeps unfinished uploads as files in dir (an .info and
// a data file each), locked with lock files there: several gateways may
// share dir on one volume.
func Files(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tus store: %w", err)
	}
	composer := tushandler.NewStoreComposer()
	filestore.New(dir).UseIn(composer)
	filelocker.New(dir).UseIn(composer)
	return &Store{
		Composer: composer,
		Where:    dir,
		Pending: func(ctx context.Context) ([]Upload, error) {
			entries, err := os.ReadDir(dir)
			if err != nil {
				return nil, err
			}
			var out []Upload
			for _, e := range entries {
				id, ok := strings.CutSuffix(e.Name(), ".info")
				if !ok || e.IsDir() {
					continue
				}
				fi, err := e.Info()
				if err != nil {
					continue // removed meanwhile
				}
				out = append(out, Upload{ID: id, Created: fi.ModTime()})
			}
			return out, nil
		},
	}, nil
}

// S3Prefix is where unfinished uploads live in an S3 bucket.
const S3Prefix = "tus/"

// S3 keeps unfinished uploads in the bucket of cfg under
// S3Prefix, as S3 multipart uploads (tusd's s3store); parts are
// assembled in tmpDir before they go to S3. objects is the object store on
// the same bucket, used to list uploads for the expiry sweep. Uploads are
// locked in memory: a gateway's own requests exclude each other, several
// gateways do not (route /api/uploads/{id} to one of them, see README).
func S3(cfg store.S3Config, tmpDir string, objects store.Store) (*Store, error) {
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return nil, fmt.Errorf("tus store: %w", err)
	}
	scheme := "https://"
	if !cfg.Secure {
		scheme = "http://"
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	key, secret := cfg.AccessKey, cfg.SecretKey
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(scheme + cfg.Endpoint),
		Region:       region,
		UsePathStyle: true, // MinIO and most S3-compatible servers
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: key, SecretAccessKey: secret, Source: "hlsd --store"}, nil
		}),
		// Checksums only where S3 demands them: S3-compatible servers vary
		// in the trailing checksums newer SDKs send by default.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	s := s3store.New(cfg.Bucket, client)
	s.ObjectPrefix = S3Prefix
	s.TemporaryDirectory = tmpDir
	// Bound the disk a stalled upload holds: parts of 16 MiB, 4 buffered.
	s.PreferredPartSize = 16 << 20
	s.MaxBufferedParts = 4
	composer := tushandler.NewStoreComposer()
	s.UseIn(composer)
	memorylocker.New().UseIn(composer)
	return &Store{
		Composer: composer,
		Where:    "s3://" + cfg.Endpoint + "/" + cfg.Bucket + "/" + S3Prefix,
		Pending: func(ctx context.Context) ([]Upload, error) {
			var infos []store.Info
			err := objects.List(ctx, S3Prefix, func(i store.Info) error {
				if strings.HasSuffix(i.Key, ".info") {
					infos = append(infos, i)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			var out []Upload
			for _, i := range infos {
				// The full upload id (with the multipart id) is in the info.
				rc, err := objects.Get(ctx, i.Key, 0, -1)
				if err != nil {
					continue // finished or removed meanwhile
				}
				var fi tushandler.FileInfo
				err = json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&fi)
				rc.Close()
				if err != nil || fi.ID == "" {
					continue
				}
				out = append(out, Upload{ID: fi.ID, Created: i.ModTime})
			}
			return out, nil
		},
	}, nil
}
