// Package faultproxy is a test-only HTTP reverse proxy that injects the
// faults an S3 endpoint shows under load (503 Service Unavailable, 503
// SlowDown, connection resets, slow responses) by a seeded schedule, in
// front of a real S3 server. Tests point a lake's endpoint at it and check
// that runs complete through retries with the same bytes.
package faultproxy

import (
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is one fault.
type Kind int

const (
	None        Kind = iota
	Unavailable      // 503 ServiceUnavailable before the request reaches the server
	SlowDown         // 503 SlowDown (S3 throttling) before the request reaches the server
	ResetBefore      // connection reset before the request reaches the server
	ResetAfter       // request served, then the connection reset instead of the response
	Slow             // served after a delay
	nKinds
)

var kindNames = [...]string{"none", "unavailable", "slowdown", "reset-before", "reset-after", "slow"}

func (k Kind) String() string { return kindNames[k] }

// Rates are the probabilities of each fault per request (the rest pass).
type Rates struct {
	Unavailable, SlowDown, ResetBefore, ResetAfter, Slow float64
	// SlowBy is the delay of a slow response.
	SlowBy time.Duration
	// Match, if set, limits faults to requests it accepts (e.g. PUTs).
	Match func(*http.Request) bool
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	URL    string // http://127.0.0.1:port: the endpoint to give clients
	srv    *httptest.Server
	rates  Rates
	mu     sync.Mutex
	rnd    *rand.Rand
	counts [nKinds]atomic.Int64
}

// New starts a proxy to target (an http:// endpoint). The schedule is
// drawn from a PCG seeded with seed: the n-th request that Match accepts
// gets the n-th draw. Concurrent clients make the order of requests, not
// the sequence of faults, vary between runs.
func New(target string, seed uint64, r Rates) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: target %q: want http://host:port", target)
	}
	p := &Proxy{rates: r, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	rp := &httputil.ReverseProxy{
		// SigV4 signs the Host header: keep the one the client signed.
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
		},
		Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64},
		// An upstream failure becomes a 502 for the client: an expected
		// fault when proxies are chained, not worth a log line.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		k := p.draw(req)
		p.counts[k].Add(1)
		switch k {
		case Unavailable:
			s3Error(w, http.StatusServiceUnavailable, "ServiceUnavailable", "injected: service unavailable")
			return
		case SlowDown:
			s3Error(w, http.StatusServiceUnavailable, "SlowDown", "injected: please reduce your request rate")
			return
		case ResetBefore:
			reset(w)
			return
		case ResetAfter:
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, req)
			reset(w)
			return
		case Slow:
			time.Sleep(p.rates.SlowBy)
		}
		rp.ServeHTTP(w, req)
	}))
	p.URL = p.srv.URL
	return p, nil
}

func (p *Proxy) draw(req *http.Request) Kind {
	if p.rates.Match != nil && !p.rates.Match(req) {
		return None
	}
	p.mu.Lock()
	x := p.rnd.Float64()
	p.mu.Unlock()
	for _, c := range []struct {
		k Kind
		p float64
	}{{Unavailable, p.rates.Unavailable}, {SlowDown, p.rates.SlowDown}, {ResetBefore, p.rates.ResetBefore},
		{ResetAfter, p.rates.ResetAfter}, {Slow, p.rates.Slow}} {
		if x < c.p {
			return c.k
		}
		x -= c.p
	}
	return None
}

// Count is how many requests got fault k so far.
func (p *Proxy) Count(k Kind) int64 { return p.counts[k].Load() }

// Counts renders every kind's count, for test logs.
func (p *Proxy) Counts() string {
	var b strings.Builder
	for k := Kind(0); k < nKinds; k++ {
		fmt.Fprintf(&b, "%s=%d ", k, p.Count(k))
	}
	return strings.TrimSpace(b.String())
}

// Close stops the proxy.
func (p *Proxy) Close() { p.srv.Close() }

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Retry-After", "0")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>faultproxy</RequestId></Error>`, code, msg)
}

// reset closes the client connection with SO_LINGER 0: the client reads a
// TCP RST ("connection reset by peer"), not a clean end of stream.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("faultproxy: response writer cannot hijack")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}
