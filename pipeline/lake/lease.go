package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/battlake/battlake/pipeline/objstore"
)

// Partition leases keep concurrent writers of one lake (shards of a
// cluster run, two runs started by hand) from publishing the same
// partition at once. They rest on one primitive, the store's conditional
// create (objstore.PutIfAbsent: If-None-Match: * on S3, an O_EXCL link on
// a folder):
//
//	_leases/<partition dir>/<seq>.json     one record per lease event
//
// The record with the highest sequence number is the partition's state,
// and it is never deleted while it is the highest: acquiring, renewing and
// releasing all create record seq+1 (release writes an already expired
// record), then delete the records below it. Of two writers racing for the
// same number exactly one wins; the other gets ErrLeaseHeld. So each
// partition keeps one small released record after a clean run.
//
// A held record is taken over when it has expired (its holder stopped
// renewing; renewals come every TTL/3), when its owner name is the
// acquirer's (a restarted shard reclaims its own leases at once), or when
// its holder is a process of this host that no longer exists (a killed
// run rerun on the same machine need not wait for the expiry). Expiry
// compares the holder's clock with the taker's: clocks must agree to well
// within the TTL. A holder stalled beyond its expiry (a long GC pause, a
// network partition) can still publish after a takeover; both writers
// write the same deterministic bytes, each file atomically, so readers
// never see a partial partition, and the stalled writer stops at its next
// renewal (ErrLeaseLost).

// LeaseArea is the top-level prefix of lease records; no table lives there
// and readers ignore it.
const LeaseArea = "_leases"

// ErrLeaseHeld means another live writer holds the partition's lease.
var ErrLeaseHeld = errors.New("partition lease held by another writer")

// ErrLeaseLost means the lease was taken over (it expired) before renewal
// or release: the holder must stop writing.
var ErrLeaseLost = errors.New("partition lease lost")

// LeaseOwner identifies a writer. Name is what takeovers compare: a
// restarted worker that keeps its name (a Kubernetes Indexed Job's shard)
// reclaims its leases at once. Host and PID let a writer on the same host
// take over from a holder process that no longer exists.
type LeaseOwner struct {
	Name string `json:"name"`
	Host string `json:"host"`
	PID  int    `json:"pid"`
}

// DefaultLeaseOwner names this process: host/pid.
func DefaultLeaseOwner() LeaseOwner {
	h, _ := os.Hostname()
	pid := os.Getpid()
	return LeaseOwner{Name: h + "/" + strconv.Itoa(pid), Host: h, PID: pid}
}

type leaseRecord struct {
	Seq     int        `json:"seq"`
	Owner   LeaseOwner `json:"owner"`
	Expires time.Time  `json:"expires"`
}

// Lease is a held partition lease.
type Lease struct {
	lake  *Lake
	part  Partition
	rec   leaseRecord
	ttl   time.Duration
	now   func() time.Time
	older []string // keys of records below ours, deleted on release
	lost  bool
}

// LeaseOptions configure AcquireLease.
type LeaseOptions struct {
	Owner LeaseOwner
	TTL   time.Duration // > 0
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

func leasePrefix(p Partition) string { return LeaseArea + "/" + p.Dir() + "/" }

func leaseKey(p Partition, seq int) string { return fmt.Sprintf("%s%012d.json", leasePrefix(p), seq) }

// AcquireLease takes p's lease for o.Owner, or fails with ErrLeaseHeld.
func (l *Lake) AcquireLease(ctx context.Context, p Partition, o LeaseOptions) (*Lease, error) {
	if o.TTL <= 0 {
		return nil, fmt.Errorf("lease %s: ttl %v must be positive", p, o.TTL)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	var keys []string
	if err := l.Store.List(ctx, leasePrefix(p), func(i objstore.ObjectInfo) error {
		keys = append(keys, i.Key)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("lease %s: list: %w", p, err)
	}
	seq := 0
	if n := len(keys); n > 0 {
		cur, err := l.readLease(ctx, keys[n-1])
		switch {
		case errors.Is(err, objstore.ErrNotFound):
			// Deleted since the listing: only a writer that created a
			// higher record deletes, so the partition is busy.
			return nil, fmt.Errorf("lease %s: changed while reading: %w", p, ErrLeaseHeld)
		case err != nil:
			return nil, fmt.Errorf("lease %s: %w", p, err)
		case cur.Owner.Name != o.Owner.Name && now().Before(cur.Expires) && !holderGone(cur.Owner):
			return nil, fmt.Errorf("lease %s: held by %s until %s: %w", p, cur.Owner.Name, cur.Expires.Format(time.RFC3339), ErrLeaseHeld)
		}
		seq = cur.Seq + 1
	}
	ls := &Lease{lake: l, part: p, ttl: o.TTL, now: now, older: keys,
		rec: leaseRecord{Seq: seq, Owner: o.Owner, Expires: now().Add(o.TTL).UTC()}}
	if err := ls.put(ctx); errors.Is(err, objstore.ErrExists) {
		return nil, fmt.Errorf("lease %s: another writer acquired it first: %w", p, ErrLeaseHeld)
	} else if err != nil {
		return nil, fmt.Errorf("lease %s: %w", p, err)
	}
	return ls, nil
}

func (ls *Lease) put(ctx context.Context) error {
	b, err := json.Marshal(ls.rec)
	if err != nil {
		return err
	}
	return ls.lake.Store.PutIfAbsent(ctx, leaseKey(ls.part, ls.rec.Seq), append(b, '\n'))
}

// Renew extends the lease by its TTL from now by creating the next record;
// ErrLeaseLost if another writer took it over meanwhile.
func (ls *Lease) Renew(ctx context.Context) error {
	if ls.lost {
		return fmt.Errorf("lease %s: %w", ls.part, ErrLeaseLost)
	}
	prev := leaseKey(ls.part, ls.rec.Seq)
	ls.rec.Seq++
	ls.rec.Expires = ls.now().Add(ls.ttl).UTC()
	if err := ls.put(ctx); errors.Is(err, objstore.ErrExists) {
		ls.lost = true
		return fmt.Errorf("lease %s: %w", ls.part, ErrLeaseLost)
	} else if err != nil {
		ls.rec.Seq--
		return fmt.Errorf("lease %s: renew: %w", ls.part, err)
	}
	ls.older = append(ls.older, prev)
	return nil
}

// Release publishes an expired record above the holder's, then deletes
// the records below it; ErrLeaseLost if another writer took over first.
func (ls *Lease) Release(ctx context.Context) error {
	if ls.lost {
		return fmt.Errorf("lease %s: %w", ls.part, ErrLeaseLost)
	}
	ls.older = append(ls.older, leaseKey(ls.part, ls.rec.Seq))
	ls.rec.Seq++
	ls.rec.Expires = time.Time{}
	if err := ls.put(ctx); errors.Is(err, objstore.ErrExists) {
		ls.lost = true
		return fmt.Errorf("lease %s: %w", ls.part, ErrLeaseLost)
	} else if err != nil {
		return fmt.Errorf("lease %s: release: %w", ls.part, err)
	}
	var errs []error
	for _, k := range ls.older {
		if err := ls.lake.Store.Delete(ctx, k); err != nil {
			errs = append(errs, err)
		}
	}
	ls.older = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lease %s: release: %w", ls.part, err)
	}
	return nil
}

// TTL is the lease's time to live.
func (ls *Lease) TTL() time.Duration { return ls.ttl }

func (l *Lake) readLease(ctx context.Context, key string) (leaseRecord, error) {
	b, err := objstore.ReadAll(ctx, l.Store, key)
	if err != nil {
		return leaseRecord{}, fmt.Errorf("read %s: %w", key, err)
	}
	var r leaseRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return leaseRecord{}, fmt.Errorf("read %s: %w", key, err)
	}
	return r, nil
}

// holderGone reports whether the holder is a process of this host that no
// longer exists (signal 0 probes without signalling).
func holderGone(o LeaseOwner) bool {
	h, err := os.Hostname()
	if err != nil || h != o.Host || o.PID <= 0 || o.PID == os.Getpid() {
		return false
	}
	return errors.Is(syscall.Kill(o.PID, 0), syscall.ESRCH)
}
