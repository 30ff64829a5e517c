package lake_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/pipeline/objstore/storetest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func owner(name string) lake.LeaseOwner {
	return lake.LeaseOwner{Name: name, Host: "elsewhere", PID: 1}
}

func testLeases(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	l := lake.New(s)
	p := testPartition(t)
	c := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	opt := func(name string) lake.LeaseOptions {
		return lake.LeaseOptions{Owner: owner(name), TTL: time.Minute, Now: c.now}
	}
	a, err := l.AcquireLease(ctx, p, opt("a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AcquireLease(ctx, p, opt("b")); !errors.Is(err, lake.ErrLeaseHeld) {
		t.Fatalf("second writer: got %v, want ErrLeaseHeld", err)
	}
	// Renewal moves the expiry: b still cannot take it 50 s later.
	c.add(50 * time.Second)
	if err := a.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	c.add(50 * time.Second)
	if _, err := l.AcquireLease(ctx, p, opt("b")); !errors.Is(err, lake.ErrLeaseHeld) {
		t.Fatalf("after renewal: got %v, want ErrLeaseHeld", err)
	}
	// a stops renewing: b takes over after the expiry; a has lost it.
	c.add(11 * time.Second)
	b, err := l.AcquireLease(ctx, p, opt("b"))
	if err != nil {
		t.Fatalf("takeover of an expired lease: %v", err)
	}
	if err := a.Renew(ctx); !errors.Is(err, lake.ErrLeaseLost) {
		t.Fatalf("renew after takeover: got %v, want ErrLeaseLost", err)
	}
	if err := a.Release(ctx); !errors.Is(err, lake.ErrLeaseLost) {
		t.Fatalf("release after takeover: got %v, want ErrLeaseLost", err)
	}
	// The same owner name reclaims at once (a restarted shard).
	b2, err := l.AcquireLease(ctx, p, opt("b"))
	if err != nil {
		t.Fatalf("reclaim by the same owner: %v", err)
	}
	if err := b.Release(ctx); !errors.Is(err, lake.ErrLeaseLost) {
		t.Fatalf("release of a reclaimed lease: got %v, want ErrLeaseLost", err)
	}
	if err := b2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// Released: anyone acquires at once, and one record remains.
	if keys := listKeys(t, s, lake.LeaseArea+"/"); len(keys) != 1 {
		t.Fatalf("after release: %v, want one released record", keys)
	}
	d, err := l.AcquireLease(ctx, p, opt("d"))
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	if err := d.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if keys := listKeys(t, s, lake.LeaseArea+"/"); len(keys) != 1 {
		t.Fatalf("after second release: %v, want one record", keys)
	}
}

// Of many writers racing for one partition exactly one holds the lease at
// a time.
func testLeaseRace(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	l := lake.New(s)
	p := testPartition(t)
	const n = 6
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		held int
		got  []*lake.Lease
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ls, err := l.AcquireLease(ctx, p, lake.LeaseOptions{Owner: owner(fmt.Sprint("w", i)), TTL: time.Hour})
			if errors.Is(err, lake.ErrLeaseHeld) {
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			held++
			got = append(got, ls)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if held != 1 {
		t.Fatalf("%d writers hold the lease, want exactly 1", held)
	}
	if err := got[0].Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLeasesFS(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, objstore.Store)
	}{{"Lifecycle", testLeases}, {"Race", testLeaseRace}} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := objstore.NewFS(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			tc.fn(t, fs)
		})
	}
}

func TestLeasesS3(t *testing.T) {
	cfg := storetest.S3FromEnv(t)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, objstore.Store)
	}{{"Lifecycle", testLeases}, {"Race", testLeaseRace}} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.Prefix = fmt.Sprintf("lease-test-%s-%d", tc.name, time.Now().UnixNano())
			s, err := objstore.NewS3(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			tc.fn(t, s)
		})
	}
}

// A holder process of this host that no longer exists loses its lease at
// once, without waiting for the expiry.
func TestLeaseDeadHolderTakenOver(t *testing.T) {
	ctx := context.Background()
	fs, err := objstore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := lake.New(fs)
	p := testPartition(t)
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no `true` binary:", err)
	}
	self := lake.DefaultLeaseOwner()
	// A live holder of this host (this test process) keeps its lease.
	if _, err := l.AcquireLease(ctx, p, lake.LeaseOptions{Owner: self, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	other := lake.LeaseOwner{Name: "other", Host: self.Host, PID: self.PID + 1}
	if _, err := l.AcquireLease(ctx, p, lake.LeaseOptions{Owner: other, TTL: time.Hour}); !errors.Is(err, lake.ErrLeaseHeld) {
		t.Fatalf("a live local holder must keep its lease: got %v", err)
	}
	// A holder that exited (the finished `true`) is taken over at once.
	q, err := lake.NewPartition(p.Table, "2026-02", -1)
	if err != nil {
		t.Fatal(err)
	}
	dead := lake.LeaseOwner{Name: "dead", Host: self.Host, PID: cmd.Process.Pid}
	if _, err := l.AcquireLease(ctx, q, lake.LeaseOptions{Owner: dead, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AcquireLease(ctx, q, lake.LeaseOptions{Owner: other, TTL: time.Hour}); err != nil {
		t.Fatalf("takeover from a dead local holder: %v", err)
	}
}
