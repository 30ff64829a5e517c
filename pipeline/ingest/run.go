package ingest

import (
	"context"
	"errors"
)

func run(ctx context.Context, cfg Config) (Summary, error) {
	return Summary{Table: cfg.Table}, errors.New("ingest: not implemented yet")
}
