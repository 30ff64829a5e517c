package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/objstore"
)

// srcFile is one input file or object.
type srcFile struct {
	name   string // as reported in rejects and messages
	format string // csv or parquet
	open   func(ctx context.Context) (io.ReadCloser, error)
	openAt func(ctx context.Context) (objstore.Object, error) // parquet
}

func formatOf(name, want string) string {
	if want != "" {
		return strings.ToLower(want)
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".parquet", ".pq":
		return "parquet"
	case ".csv", ".txt":
		return "csv"
	}
	return ""
}

// listSources resolves cfg.Source to files: a file, a folder (its .csv or
// .parquet files, sorted by name, not recursive) or an s3:// object or
// prefix. A store opened for S3 is closed by the returned func.
func listSources(ctx context.Context, cfg Config) ([]srcFile, func(), error) {
	src := cfg.Source
	if strings.HasPrefix(src, "s3://") {
		return listS3(ctx, cfg)
	}
	fi, err := os.Stat(src)
	if err != nil {
		return nil, nil, fmt.Errorf("source %s: %w", src, err)
	}
	var names []string
	if fi.IsDir() {
		ents, err := os.ReadDir(src)
		if err != nil {
			return nil, nil, fmt.Errorf("source %s: %w", src, err)
		}
		for _, e := range ents {
			if !e.IsDir() && formatOf(e.Name(), "") != "" {
				names = append(names, filepath.Join(src, e.Name()))
			}
		}
		sort.Strings(names)
		if len(names) == 0 {
			return nil, nil, fmt.Errorf("source %s: no .csv or .parquet file in the folder", src)
		}
	} else {
		names = []string{src}
	}
	var out []srcFile
	for _, n := range names {
		f := formatOf(n, cfg.Format)
		if f == "" {
			return nil, nil, fmt.Errorf("source %s: cannot tell the format from the extension: use --format csv or parquet", n)
		}
		name := n
		out = append(out, srcFile{name: name, format: f,
			open: func(context.Context) (io.ReadCloser, error) { return os.Open(name) },
			openAt: func(ctx context.Context) (objstore.Object, error) {
				fs, err := objstore.NewFS(filepath.Dir(name))
				if err != nil {
					return nil, err
				}
				return fs.Open(ctx, filepath.Base(name))
			}})
	}
	return out, func() {}, nil
}

func listS3(ctx context.Context, cfg Config) ([]srcFile, func(), error) {
	bucket, key, err := objstore.ParseS3URL(cfg.Source)
	if err != nil {
		return nil, nil, fmt.Errorf("source: %w", err)
	}
	lk, err := pipeline.OpenLake(ctx, "s3://"+bucket, pipeline.LakeOptions{Endpoint: cfg.LakeOptions.Endpoint, Region: cfg.LakeOptions.Region, Retries: 4})
	if err != nil {
		return nil, nil, fmt.Errorf("source %s: %w", cfg.Source, err)
	}
	st := lk.Store
	done := func() { st.Close() }
	var keys []string
	if _, err := st.Stat(ctx, key); err == nil && key != "" && !strings.HasSuffix(key, "/") {
		keys = []string{key}
	} else if err != nil && !errors.Is(err, objstore.ErrNotFound) {
		done()
		return nil, nil, fmt.Errorf("source %s: %w", cfg.Source, err)
	} else {
		prefix := key
		if prefix != "" && !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		err := st.List(ctx, prefix, func(o objstore.ObjectInfo) error {
			rest := strings.TrimPrefix(o.Key, prefix)
			if !strings.Contains(rest, "/") && formatOf(o.Key, "") != "" {
				keys = append(keys, o.Key)
			}
			return nil
		})
		if err != nil {
			done()
			return nil, nil, fmt.Errorf("source %s: %w", cfg.Source, err)
		}
		if len(keys) == 0 {
			done()
			return nil, nil, fmt.Errorf("source %s: no .csv or .parquet object under the prefix", cfg.Source)
		}
	}
	var out []srcFile
	for _, k := range keys {
		f := formatOf(k, cfg.Format)
		if f == "" {
			done()
			return nil, nil, fmt.Errorf("source s3://%s/%s: cannot tell the format from the extension: use --format csv or parquet", bucket, k)
		}
		key := k
		out = append(out, srcFile{name: "s3://" + bucket + "/" + key, format: f,
			open: func(ctx context.Context) (io.ReadCloser, error) { return st.Get(ctx, key) },
			openAt: func(ctx context.Context) (objstore.Object, error) {
				return st.Open(ctx, key)
			}})
	}
	return out, done, nil
}
