package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/jobs/evaluate"
	"github.com/battlake/battlake/jobs/rul"
	"github.com/battlake/battlake/pipeline"
	"github.com/spf13/cobra"
)

// newEvaluateCmd scores the registered models against the hidden truth.
// It is the one command that reads `_truth/` on purpose.
func newEvaluateCmd(stdout io.Writer) *cobra.Command {
	var (
		lakeURL, endpoint string
		seed              uint64
		asJSON            bool
	)
	cmd := &cobra.Command{
		Use:   "evaluate",
		Short: "Score the RUL and failure models and the alerts against the hidden truth",
		Long: `Evaluate rebuilds the labelled set from the lake, loads the registered models
(ml_model artifacts: one model set per training cutoff) and prints, on the test
strings at every month end of the telemetry and the horizon, each day predicted
point in time by the model set of its cutoff (the latest on or before it): RUL
MAE and RMSE of the ML model, the fused estimate and the twin's extrapolation,
by horizon bucket, 95 % interval coverage and width (ML and fused), AUROC and
Brier score for failure within 30 and 90 days, alpha-lambda accuracy, three
baselines (trained at the same cutoffs) and a truth-informed reference. Then the
alerts' usefulness: the share of jars reaching end of service that were warned at
least 30 days ahead, the share of critical alerts that matched a real condition,
and the median lead time.`,
		Example: `  battlake evaluate                  # the default lake in ./lake
  battlake evaluate --lake s3://bucket/lake --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lk, err := pipeline.OpenLake(cmd.Context(), lakeURL, pipeline.LakeOptions{Endpoint: endpoint, Retries: 4, Concurrency: 64})
			if err != nil {
				return err
			}
			defer lk.Store.Close()
			ev, err := rul.EvaluateLake(cmd.Context(), lk, seed)
			if err != nil {
				return fmt.Errorf("evaluate %s: %w", lakeURL, err)
			}
			al, err := evaluate.Alerts(cmd.Context(), lk)
			if err != nil {
				return fmt.Errorf("evaluate alerts %s: %w", lakeURL, err)
			}
			if asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"rul": ev.RULMetrics(), "failure_30d": ev.FailureMetrics(30), "failure_90d": ev.FailureMetrics(90), "alerts": al})
			}
			_, err = fmt.Fprintf(stdout, "%s\n%s", ev, al)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&lakeURL, "lake", "lake", "lake location: a directory or s3://bucket/prefix")
	fl.StringVar(&endpoint, "endpoint", "", "S3 endpoint URL (else AWS_ENDPOINT_URL)")
	fl.Uint64Var(&seed, "seed", jobs.DefaultSeed, "root seed the lake was built with (fixes the baselines' training)")
	fl.BoolVar(&asJSON, "json", false, "print the metrics as JSON")
	return cmd
}
