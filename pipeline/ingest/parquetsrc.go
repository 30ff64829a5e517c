package ingest

import (
	"context"
	"fmt"
)

func (e *engine) readParquet(ctx context.Context, fi int) error {
	return fmt.Errorf("ingest: %s: parquet input not implemented yet", e.files[fi].name)
}
