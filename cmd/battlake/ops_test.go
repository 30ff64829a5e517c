package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/pipeline/objstore/faultproxy"
	"github.com/battlake/battlake/pipeline/objstore/storetest"
)

// childEnv carries a child process's arguments (JSON) when a test re-runs
// this test binary as the battlake command.
const childEnv = "BATTLAKE_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if a := os.Getenv(childEnv); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			fmt.Fprintln(os.Stderr, "child args:", err)
			os.Exit(99)
		}
		root := newRoot(os.Stdout, os.Stderr)
		root.SetArgs(args)
		err := root.ExecuteContext(context.Background())
		if err != nil {
			fmt.Fprintln(os.Stderr, "battlake:", err)
		}
		os.Exit(exitCode(err))
	}
	os.Exit(m.Run())
}

// battlake runs the command in this process.
func battlake(t *testing.T, args ...string) (stdout string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRoot(&out, &errb)
	root.SetArgs(args)
	err = root.ExecuteContext(t.Context())
	if err != nil {
		t.Logf("battlake %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), err
}

// tiny is a one-site, one-day scenario at 1 min.
var tiny = []string{"--sites", "DC-BKK-01", "--start", "2026-03-01", "--end", "2026-03-02", "--sample-interval", "1m",
	"--seed", "8", "--log-level", "warn", "--progress=false"}

func TestExitCodes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("x"), 0o644)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		args []string
		ctx  context.Context
		want int
	}{
		{"unknown flag", []string{"run", "--bogus"}, nil, exitUsage},
		{"bad stage", []string{"run", "--stages", "nope"}, nil, exitUsage},
		{"bad shard", []string{"run", "--shard", "3/3"}, nil, exitUsage},
		{"backfill without month", []string{"backfill"}, nil, exitUsage},
		{"backfill bad month", []string{"backfill", "--month", "2026-13"}, nil, exitUsage},
		{"lake is a file", append([]string{"run", "--lake", file, "--stages", "master"}, tiny...), nil, exitLake},
		{"interrupted", append([]string{"run", "--lake", t.TempDir(), "--stages", "master"}, tiny...), cancelled, exitInterrupted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			root := newRoot(&out, &out)
			root.SetArgs(tc.args)
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			err := root.ExecuteContext(ctx)
			if got := exitCode(err); got != tc.want {
				t.Fatalf("exit code %d (err %v), want %d", got, err, tc.want)
			}
		})
	}
	if exitCode(nil) != exitOK {
		t.Fatal("nil error must exit 0")
	}
}

func TestHelpDocumentsExitCodes(t *testing.T) {
	for _, cmd := range []string{"run", "backfill"} {
		out, err := battlake(t, cmd, "--help")
		if err != nil {
			t.Fatal(err)
		}
		for _, code := range []string{"0 ", "1 ", "2 ", "3 ", "130 "} {
			if !strings.Contains(out, "\n  "+code) {
				t.Errorf("%s --help does not document exit code %s:\n%s", cmd, code, out)
			}
		}
	}
}

type summary struct {
	Command      string `json:"command"`
	Shard        string `json:"shard"`
	PeakRSSBytes int64  `json:"peak_rss_bytes"`
	ExitCode     int    `json:"exit_code"`
	Tables       []struct {
		Table      string `json:"table"`
		Partitions int    `json:"partitions"`
		Files      int    `json:"files"`
		Skipped    int    `json:"skipped"`
		Rows       int64  `json:"rows"`
		Bytes      int64  `json:"bytes"`
	} `json:"tables"`
	Totals struct {
		Partitions int   `json:"partitions"`
		Skipped    int   `json:"skipped"`
		Rows       int64 `json:"rows"`
		Bytes      int64 `json:"bytes"`
	} `json:"totals"`
}

func readSummary(t *testing.T, path string) summary {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("summary %s: %v", b, err)
	}
	return s
}

// The JSON summary agrees with the manifests the run wrote, and a rerun
// reports every partition skipped.
func TestSummaryJSONMatchesLake(t *testing.T) {
	dir := t.TempDir()
	sumPath := filepath.Join(t.TempDir(), "summary.json")
	args := append([]string{"run", "--lake", dir, "--stages", "master", "--summary-json", sumPath}, tiny...)
	if _, err := battlake(t, args...); err != nil {
		t.Fatal(err)
	}
	s := readSummary(t, sumPath)
	if s.Command != "run" || s.ExitCode != 0 || s.PeakRSSBytes <= 0 || len(s.Tables) == 0 {
		t.Fatalf("summary %+v", s)
	}
	var rows, bytes int64
	for _, tb := range s.Tables {
		b, err := os.ReadFile(filepath.Join(dir, tb.Table, lake.ManifestFile))
		if tb.Table == "truth_battery" {
			b, err = os.ReadFile(filepath.Join(dir, "_truth", tb.Table, lake.ManifestFile))
		}
		if err != nil {
			t.Fatalf("table %s: %v", tb.Table, err)
		}
		m, err := lake.DecodeManifest(b)
		if err != nil {
			t.Fatal(err)
		}
		if m.Rows != tb.Rows || m.Bytes != tb.Bytes || tb.Partitions != 1 {
			t.Errorf("%s: summary rows %d bytes %d, manifest rows %d bytes %d", tb.Table, tb.Rows, tb.Bytes, m.Rows, m.Bytes)
		}
		rows += tb.Rows
		bytes += tb.Bytes
	}
	if rows != s.Totals.Rows || bytes != s.Totals.Bytes {
		t.Fatalf("totals %+v, sum of tables rows %d bytes %d", s.Totals, rows, bytes)
	}
	// --output json prints the same document on stdout; nothing is stale.
	args = append([]string{"run", "--lake", dir, "--stages", "master", "--output", "json"}, tiny...)
	out, err := battlake(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	var again summary
	if err := json.Unmarshal([]byte(out), &again); err != nil {
		t.Fatalf("--output json: %v\n%s", err, out)
	}
	if again.Totals.Partitions != 0 || again.Totals.Skipped != len(s.Tables) {
		t.Fatalf("rerun totals %+v, want all %d skipped", again.Totals, len(s.Tables))
	}
}

// dirHashes maps every file of a lake folder outside _leases/ and
// _staging/ to its digest.
func dirHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, lake.LeaseArea+"/") || strings.HasPrefix(rel, "_staging/") {
			return nil
		}
		b, err := os.ReadFile(p)
		h := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(h[:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffKeys(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// A month backfill writes only that month's partitions and the master
// tables, never rolls the master data's as-of state back, resumes (a
// rerun skips everything), and --force rewrites the month to the same
// bytes.
func TestBackfillMonth(t *testing.T) {
	dir := t.TempDir()
	base := []string{"--lake", dir, "--sites", "DC-BKK-01", "--sample-interval", "1h", "--seed", "8", "--log-level", "warn", "--progress=false"}
	stages := []string{"--stages", "master,telemetry,calc"}
	// The current lake: two days of April.
	if _, err := battlake(t, slices.Concat([]string{"run", "--start", "2026-04-01", "--end", "2026-04-03"}, stages, base)...); err != nil {
		t.Fatal(err)
	}
	before := dirHashes(t, dir)
	sumPath := filepath.Join(t.TempDir(), "s.json")
	if _, err := battlake(t, slices.Concat([]string{"backfill", "--month", "2026-02", "--summary-json", sumPath}, stages, base)...); err != nil {
		t.Fatal(err)
	}
	after := dirHashes(t, dir)
	var added []string
	for k, v := range after {
		old, ok := before[k]
		switch {
		case !ok:
			added = append(added, k)
			if !strings.Contains(k, "/month=2026-02/") {
				t.Errorf("backfill of 2026-02 created %s", k)
			}
		case old != v:
			t.Errorf("backfill of 2026-02 changed %s (as-of state rolled back?)", k)
		}
	}
	if len(before)+len(added) != len(after) {
		t.Fatalf("backfill removed files: %d before, %d added, %d after", len(before), len(added), len(after))
	}
	for _, tbl := range []string{"telemetry_jar_raw", "telemetry_env", "telemetry_jar_calc"} {
		if !slices.ContainsFunc(added, func(k string) bool { return strings.HasPrefix(k, tbl+"/month=2026-02/") }) {
			t.Errorf("backfill wrote nothing of %s for 2026-02", tbl)
		}
	}
	// February has 28 days: a day file for each in every jar bucket.
	n := 0
	for _, k := range added {
		if strings.HasPrefix(k, "telemetry_env/month=2026-02/part-2026-02-") {
			n++
		}
	}
	if n != 28 {
		t.Errorf("telemetry_env 2026-02 day files: %d, want 28", n)
	}
	// Resumable: the same backfill finds everything fresh.
	if _, err := battlake(t, slices.Concat([]string{"backfill", "--month", "2026-02", "--summary-json", sumPath}, stages, base)...); err != nil {
		t.Fatal(err)
	}
	if s := readSummary(t, sumPath); s.Totals.Partitions != 0 || s.Totals.Skipped == 0 {
		t.Fatalf("rerun of the backfill wrote %+v", s.Totals)
	}
	// --force rewrites February's partitions, with the same bytes, and
	// leaves April and the master tables alone.
	if _, err := battlake(t, slices.Concat([]string{"backfill", "--month", "2026-02", "--force", "--summary-json", sumPath}, stages, base)...); err != nil {
		t.Fatal(err)
	}
	if s := readSummary(t, sumPath); s.Totals.Partitions == 0 {
		t.Fatalf("--force rewrote nothing: %+v", s.Totals)
	}
	if d := diffKeys(after, dirHashes(t, dir)); len(d) > 0 {
		t.Fatalf("forced backfill changed bytes: %v", d)
	}
}

// child starts this test binary as `battlake args...`.
func child(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	a, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+string(a)), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("child %v:\n%s", args, out.String())
		}
	})
	return cmd
}

// s3Hashes maps every object under prefix (outside _leases/) to its digest.
func s3Hashes(t *testing.T, cfg objstore.S3Config, prefix string) map[string]string {
	t.Helper()
	cfg.Prefix = prefix
	s, err := objstore.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	if err := s.List(context.Background(), "", func(i objstore.ObjectInfo) error {
		if strings.HasPrefix(i.Key, lake.LeaseArea+"/") {
			return nil
		}
		b, err := objstore.ReadAll(context.Background(), s, i.Key)
		h := sha256.Sum256(b)
		out[i.Key] = hex.EncodeToString(h[:])
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// N processes, each running its shard of every phase against one bucket
// on the real S3 server (phase by phase, as the cluster runs), produce the
// lake a single process writes, byte for byte.
func TestShardedProcessesEqualOneProcessS3(t *testing.T) {
	cfg := storetest.S3FromEnv(t)
	env := []string{"AWS_ACCESS_KEY_ID=" + cfg.AccessKey, "AWS_SECRET_ACCESS_KEY=" + cfg.SecretKey, "AWS_REGION=us-east-1"}
	run := fmt.Sprintf("shards-%d", time.Now().UnixNano())
	one, many := run+"/one", run+"/many"
	common := func(prefix string) []string {
		return append([]string{"--lake", "s3://" + cfg.Bucket + "/" + prefix, "--endpoint", cfg.Endpoint, "--workers", "1"}, tiny...)
	}
	sums := t.TempDir()
	single := child(t, env, slices.Concat([]string{"run", "--summary-json", filepath.Join(sums, "one.json")}, common(one))...)
	if err := single.Run(); err != nil {
		t.Fatalf("single process: %v", err)
	}
	const n = 3
	written := 0
	for _, stage := range jobs.StageNames() {
		var cmds []*exec.Cmd
		for i := range n {
			c := child(t, env, slices.Concat([]string{"run", "--stages", stage, "--shard", fmt.Sprintf("%d/%d", i, n),
				"--lease-owner", fmt.Sprintf("shard-%d", i), "--summary-json", filepath.Join(sums, fmt.Sprint(stage, i, ".json"))}, common(many))...)
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, c)
		}
		for i, c := range cmds {
			if err := c.Wait(); err != nil {
				t.Fatalf("stage %s shard %d/%d: %v", stage, i, n, err)
			}
			s := readSummary(t, filepath.Join(sums, fmt.Sprint(stage, i, ".json")))
			if stage == "telemetry" && s.Totals.Partitions == 0 {
				t.Errorf("telemetry shard %d/%d wrote nothing: the shards did not share the work", i, n)
			}
			written += s.Totals.Partitions
		}
	}
	// Every partition was written by exactly one shard.
	if want := readSummary(t, filepath.Join(sums, "one.json")).Totals.Partitions; written != want {
		t.Errorf("shards wrote %d partitions in all, one process %d", written, want)
	}
	a, b := s3Hashes(t, cfg, one), s3Hashes(t, cfg, many)
	if len(a) < 50 {
		t.Fatalf("single-process lake has only %d objects", len(a))
	}
	if d := diffKeys(a, b); len(d) > 0 {
		t.Fatalf("sharded lake differs from the single-process lake in %d objects: %v", len(d), d[:min(len(d), 10)])
	}
}

// A sharded run through a proxy that injects 503s, SlowDowns, connection
// resets (before and after the server acted) and slow answers completes
// through retries and writes the lake a clean run writes, byte for byte.
func TestRunThroughFaultsS3(t *testing.T) {
	cfg := storetest.S3FromEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", cfg.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", cfg.SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	// NewS3's start-up probe (HeadBucket) fails fast by design: spare it.
	notProbe := func(r *http.Request) bool {
		return r.Method != http.MethodHead || strings.Count(strings.Trim(r.URL.Path, "/"), "/") > 0
	}
	px, err := faultproxy.New(cfg.Endpoint, 13, faultproxy.Rates{Unavailable: 0.02, SlowDown: 0.02, ResetBefore: 0.02,
		ResetAfter: 0.02, Slow: 0.03, SlowBy: 30 * time.Millisecond, Match: notProbe})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	run := fmt.Sprintf("faults-%d", time.Now().UnixNano())
	args := func(endpoint, prefix string) []string {
		return append([]string{"--lake", "s3://" + cfg.Bucket + "/" + prefix, "--endpoint", endpoint, "--workers", "2", "--s3-max-backoff", "50ms"}, tiny...)
	}
	stages := []string{"master", "telemetry", "calc"}
	if _, err := battlake(t, slices.Concat([]string{"run", "--stages", strings.Join(stages, ",")}, args(cfg.Endpoint, run+"/clean"))...); err != nil {
		t.Fatal(err)
	}
	for _, stage := range stages {
		for i := range 2 {
			if _, err := battlake(t, slices.Concat([]string{"run", "--stages", stage, "--shard", fmt.Sprintf("%d/2", i)}, args(px.URL, run+"/faulty"))...); err != nil {
				t.Fatalf("stage %s shard %d/2 through faults (%s): %v", stage, i, px.Counts(), err)
			}
		}
	}
	t.Logf("faults injected: %s", px.Counts())
	for _, k := range []faultproxy.Kind{faultproxy.Unavailable, faultproxy.SlowDown, faultproxy.ResetBefore, faultproxy.ResetAfter, faultproxy.Slow} {
		if px.Count(k) == 0 {
			t.Errorf("no %s fault was injected", k)
		}
	}
	a, b := s3Hashes(t, cfg, run+"/clean"), s3Hashes(t, cfg, run+"/faulty")
	if len(a) < 50 {
		t.Fatalf("clean lake has only %d objects", len(a))
	}
	if d := diffKeys(a, b); len(d) > 0 {
		t.Fatalf("lake written through faults differs in %d objects: %v", len(d), d[:min(len(d), 10)])
	}
}

// A shard killed (SIGKILL) while it holds partition leases is rerun at
// once under another lease owner on the same host: it takes over the dead
// process's leases instead of waiting for their expiry (1 h here; the
// rerun's deadline is far shorter), and the lake ends equal to a clean run.
func TestKilledShardRerunTakesOverLeases(t *testing.T) {
	ref, dir := t.TempDir(), t.TempDir()
	stages := []string{"--stages", "master,telemetry"}
	if _, err := battlake(t, slices.Concat([]string{"run", "--lake", ref, "--workers", "2"}, stages, tiny)...); err != nil {
		t.Fatal(err)
	}
	shard := func(i int, owner string) []string {
		return slices.Concat([]string{"run", "--lake", dir, "--workers", "2", "--shard", fmt.Sprintf("%d/2", i),
			"--lease-owner", owner, "--lease-ttl", "1h"}, stages, tiny, []string{"--log-level", "debug"})
	}
	a, _ := json.Marshal(shard(0, "first"))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(a))
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	written := 0
	sc := bufio.NewScanner(errPipe)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "partition written") && strings.Contains(sc.Text(), "telemetry_") {
			if written++; written == 5 {
				cmd.Process.Kill() // SIGKILL: no lease is released
				break
			}
		}
	}
	for sc.Scan() {
	}
	if err := cmd.Wait(); err == nil || written < 5 {
		t.Fatalf("the shard was not killed mid-run (%d partitions written, %v)", written, err)
	}
	held := 0
	filepath.WalkDir(filepath.Join(dir, lake.LeaseArea), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			if !strings.Contains(string(b), `"expires":"0001-01-01T00:00:00Z"`) {
				held++
			}
		}
		return nil
	})
	t.Logf("leases held by the killed shard: %d", held)
	// The rerun must not wait for the expiry: bound it well below 1 h.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	for i, owner := range []string{"second", "other"} {
		var out bytes.Buffer
		root := newRoot(&out, &out)
		root.SetArgs(shard(i, owner))
		if err := root.ExecuteContext(ctx); err != nil {
			t.Fatalf("rerun of shard %d/2: %v", i, err)
		}
	}
	if d := diffKeys(dirHashes(t, ref), dirHashes(t, dir)); len(d) > 0 {
		t.Fatalf("lake after kill and rerun differs from a clean run in %d files: %v", len(d), d[:min(len(d), 10)])
	}
}

type plan struct {
	Shards int `json:"shards"`
	Tasks  []struct {
		Stage, Job, Table, Partition, Key string
		Segments                          []struct{ Name string }
		Weight                            int64
		Shard                             int
	} `json:"tasks"`
}

// plan prints every task once with its shard; --shard i/N prints exactly
// shard i's share, and the shares add up to the plan.
func TestPlanJSON(t *testing.T) {
	dir := t.TempDir()
	base := append([]string{"plan", "--lake", dir, "--stages", "master,telemetry"}, tiny...)
	out, err := battlake(t, append(base, "--shards", "3")...)
	if err != nil {
		t.Fatal(err)
	}
	var all plan
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		t.Fatalf("plan output: %v\n%s", err, out)
	}
	if all.Shards != 3 || len(all.Tasks) < 20 {
		t.Fatalf("plan: %d shards, %d tasks", all.Shards, len(all.Tasks))
	}
	keys := map[string]int{}
	for _, tk := range all.Tasks {
		keys[tk.Key]++
		if tk.Stage != "master" && tk.Stage != "telemetry" || tk.Table == "" || len(tk.Segments) == 0 || tk.Shard < 0 || tk.Shard >= 3 {
			t.Fatalf("task %+v", tk)
		}
		if tk.Table == "telemetry_jar_raw" && (tk.Partition != "month=2026-03/bucket="+tk.Key[len(tk.Key)-2:] || tk.Segments[0].Name != "2026-03-01") {
			t.Fatalf("jar task %+v", tk)
		}
	}
	for k, n := range keys {
		if n != 1 {
			t.Fatalf("partition %s planned %d times", k, n)
		}
	}
	total := 0
	for i := range 3 {
		out, err := battlake(t, append(base, "--shard", fmt.Sprintf("%d/3", i))...)
		if err != nil {
			t.Fatal(err)
		}
		var p plan
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatal(err)
		}
		for _, tk := range p.Tasks {
			if tk.Shard != i {
				t.Fatalf("--shard %d/3 printed a task of shard %d", i, tk.Shard)
			}
		}
		if len(p.Tasks) == 0 {
			t.Fatalf("shard %d/3 has no task", i)
		}
		total += len(p.Tasks)
	}
	if total != len(all.Tasks) {
		t.Fatalf("shards hold %d tasks, the plan %d", total, len(all.Tasks))
	}
	// A month plan holds only that month's partitions and master tables.
	out, err = battlake(t, "plan", "--lake", dir, "--stages", "transactions", "--month", "2026-02", "--sites", "DC-BKK-01", "--seed", "8")
	if err != nil {
		t.Fatal(err)
	}
	var month plan
	if err := json.Unmarshal([]byte(out), &month); err != nil {
		t.Fatal(err)
	}
	if len(month.Tasks) == 0 {
		t.Fatal("month plan is empty")
	}
	for _, tk := range month.Tasks {
		if !strings.Contains(tk.Partition, "month=2026-02") {
			t.Fatalf("month plan holds %s", tk.Key)
		}
	}
}

// The progress bar is off for anything but a terminal: a buffer, a file,
// /dev/null (a character device, yet no terminal), and under CI.
func TestProgressOnlyOnATerminal(t *testing.T) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for name, w := range map[string]io.Writer{"buffer": &bytes.Buffer{}, "file": file, "/dev/null": devnull} {
		if progressDefault(w) {
			t.Errorf("progress on for %s", name)
		}
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		t.Setenv("CI", "")
		t.Setenv("TERM", "xterm")
		if !progressDefault(tty) {
			t.Error("progress off on a terminal")
		}
		t.Setenv("CI", "true")
		if progressDefault(tty) {
			t.Error("progress on under CI")
		}
	}
}
