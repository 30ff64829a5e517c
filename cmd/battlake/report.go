package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	lakereport "github.com/battlake/battlake/jobs/report"
	"github.com/battlake/battlake/pipeline"
	"github.com/spf13/cobra"
)

// newReportCmd renders the lake as a static HTML page with PNG plots.
func newReportCmd(stdout io.Writer) *cobra.Command {
	var lakeURL, endpoint, out string
	var worst int
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Write a static HTML report with plots of what the lake holds",
		Long: `Report reads the lake through its manifests and writes DIR/index.html and its PNG
plots: the fleet's state of health by site (observed by the digital twin, and the
hidden truth where the lake has it, labelled as truth), the SOH trajectories of the
worst jars, predicted against true RUL with 95 % intervals, alerts and incidents over
time by severity, and the rows, bytes and files of every table. A section whose
tables are missing says so. The page needs no network and no script, and the same
lake always gives the same bytes.`,
		Example: `  battlake report --out report            # the default lake in ./lake
  battlake report --lake s3://bucket/lake --endpoint http://127.0.0.1:7070 --out /tmp/report`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !strings.HasPrefix(lakeURL, "s3://") {
				// Opening a local lake creates its directory: a typo must
				// not report an empty folder.
				if fi, err := os.Stat(lakeURL); err != nil || !fi.IsDir() {
					return fmt.Errorf("no lake directory at %s", lakeURL)
				}
			}
			lk, err := pipeline.OpenLake(cmd.Context(), lakeURL, pipeline.LakeOptions{Endpoint: endpoint, Retries: 4, Concurrency: 64})
			if err != nil {
				return err
			}
			defer lk.Store.Close()
			res, err := lakereport.Write(cmd.Context(), lk, lakereport.Options{Location: lakeURL, Out: out, WorstJars: worst})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "wrote %s/index.html and %d plots (%d bytes)\n", strings.TrimSuffix(out, "/"), len(res.Files)-1, res.Bytes)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&lakeURL, "lake", "./lake", "lake location: a directory or s3://bucket/prefix")
	fl.StringVar(&endpoint, "endpoint", "", "S3 endpoint URL (default: $AWS_ENDPOINT_URL_S3 or AWS)")
	fl.StringVar(&out, "out", "", "directory to write index.html and the PNG plots into (required)")
	fl.IntVar(&worst, "worst", 8, "how many of the worst jars the trajectory plot shows")
	cmd.MarkFlagRequired("out")
	return cmd
}
