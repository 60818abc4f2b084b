package status

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golive/golive/publish"
)

const (
	defaultInterval = 10 * time.Second
	maxTimeout      = 5 * time.Second
	warnEvery       = time.Minute // repeated failures: one warning this often
	maxReply        = 64 << 10    // bytes of a reply read at most
)

// Heartbeat posts the Document to a platform: once when Run starts, at each
// Interval and on Notify, all from Run's goroutine, at most one post in
// flight. A failed post is logged (rate-limited) and retried at the next
// tick; it never stops the stream. The platform's reply may order a stop
// or cap the bitrate (see OnStop and OnMaxBitrate).
//
// Fill the fields, then call Run once; Notify and Counts are safe from any
// goroutine. A Heartbeat must not be copied once used.
type Heartbeat struct {
	URL      string
	Token    string        // bearer; never logged
	Interval time.Duration // 10 s when zero
	Timeout  time.Duration // per post; min(Interval, 5 s) when zero
	Snapshot func() Document
	// OnStop is called (once) when a reply says {"action":"stop"}, with
	// the reply's "reason" (may be empty). It runs on Run's goroutine and
	// should only signal the caller (e.g. cancel the stream's context).
	OnStop func(reason string)
	// OnMaxBitrate is called when a reply carries max_bitrate (bit/s, >0),
	// each time it changes. It runs on Run's goroutine.
	OnMaxBitrate func(bps int)
	Client       *http.Client // nil: a default with Timeout
	Logger       *slog.Logger // nil: slog.Default()

	now func() time.Time // the clock of the warning rate limit; time.Now when nil

	once         sync.Once
	notify       chan struct{}
	sent, failed atomic.Int64

	// Owned by Run's goroutine.
	log      *slog.Logger
	stopped  bool      // OnStop was called
	maxBps   int       // the last max_bitrate ordered
	failing  int       // failed posts since the last one that went through
	lastWarn time.Time // when the last failure was logged
}

// Check validates the configuration, so that a bad heartbeat URL fails
// before the stream goes live. Errors about the URL wrap publish.ErrBadURL.
func (h *Heartbeat) Check() error {
	u, err := url.Parse(h.URL)
	if err != nil {
		return fmt.Errorf("heartbeat url %s: %w", publish.Redact(h.URL), publish.ErrBadURL)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("heartbeat url %s: want http(s)://host/…: %w", publish.Redact(h.URL), publish.ErrBadURL)
	}
	if h.Interval < 0 || h.Timeout < 0 {
		return fmt.Errorf("heartbeat: negative interval %v or timeout %v", h.Interval, h.Timeout)
	}
	if h.Snapshot == nil {
		return errors.New("heartbeat: no Snapshot function")
	}
	return nil
}

// Run posts once at start, then at each interval and whenever Notify is
// called, until ctx is done; then it posts once more (the final document,
// e.g. state stopped: the caller sets it before cancelling) within Timeout
// and returns. With an invalid configuration (see Check) it logs an error
// and returns at once.
func (h *Heartbeat) Run(ctx context.Context) {
	log := h.Logger
	if log == nil {
		log = slog.Default()
	}
	h.log = log.With("component", "status.heartbeat")
	if err := h.Check(); err != nil {
		h.log.Error("heartbeat disabled", "error", err)
		return
	}
	interval := h.Interval
	if interval == 0 {
		interval = defaultInterval
	}
	timeout := h.Timeout
	if timeout == 0 {
		timeout = min(interval, maxTimeout)
	}
	client := h.Client
	if client == nil {
		client = &http.Client{Timeout: timeout}
	}
	h.log.Debug("heartbeat started", "url", publish.Redact(h.URL), "interval", interval)

	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		// A post interrupted by ctx is the shutdown, not a failure.
		if err := h.post(ctx, client, timeout); ctx.Err() == nil {
			h.record(err)
		}
		select {
		case <-tick.C:
		case <-h.notifyC():
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	final, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	h.record(h.post(final, client, timeout))
}

// Notify asks for a post now (a state change). It never blocks; requests
// made while a post waits or is in flight coalesce into one more post.
func (h *Heartbeat) Notify() {
	select {
	case h.notifyC() <- struct{}{}:
	default:
	}
}

// Counts reports the posts the platform accepted (2xx) and those that
// failed (network error, timeout or another status).
func (h *Heartbeat) Counts() (sent, failed int64) {
	return h.sent.Load(), h.failed.Load()
}

func (h *Heartbeat) notifyC() chan struct{} {
	h.once.Do(func() { h.notify = make(chan struct{}, 1) })
	return h.notify
}

// post sends one snapshot and handles the reply.
func (h *Heartbeat) post(ctx context.Context, client *http.Client, timeout time.Duration) error {
	select { // this snapshot covers any state change notified so far
	case <-h.notifyC():
	default:
	}
	doc := take(h.Snapshot)
	body, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return unwrapURL(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "golive/"+cmp.Or(doc.Version, "dev"))
	if h.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.Token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return unwrapURL(err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("platform answered %s", resp.Status)
	}
	if err != nil {
		return fmt.Errorf("read reply: %w", unwrapURL(err))
	}
	h.obey(reply)
	return nil
}

// obey acts on the orders in a reply.
func (h *Heartbeat) obey(reply []byte) {
	if len(bytes.TrimSpace(reply)) == 0 {
		return
	}
	var r struct {
		Action     string  `json:"action"`
		Reason     string  `json:"reason"`
		MaxBitrate float64 `json:"max_bitrate"` // float: also takes 8e5 or 800000.0
	}
	if err := json.Unmarshal(reply, &r); err != nil {
		h.log.Debug("heartbeat reply ignored: not JSON", "error", err)
		return
	}
	if bps := int(r.MaxBitrate); r.MaxBitrate >= 1 && r.MaxBitrate < 1e12 && bps != h.maxBps {
		h.maxBps = bps
		h.log.Info("platform capped the bitrate", "max_bitrate", bps)
		if h.OnMaxBitrate != nil {
			h.OnMaxBitrate(bps)
		}
	}
	switch {
	case strings.EqualFold(r.Action, "stop") && !h.stopped:
		h.stopped = true
		h.log.Warn("platform ordered the stream to stop", "reason", r.Reason)
		if h.OnStop != nil {
			h.OnStop(r.Reason)
		}
	case r.Action != "" && !strings.EqualFold(r.Action, "stop"):
		h.log.Debug("heartbeat reply: unknown action ignored", "action", r.Action)
	}
}

// record counts a post and logs failures: the first one, then at most one
// warning every warnEvery while they go on, and one line on recovery.
func (h *Heartbeat) record(err error) {
	now := time.Now
	if h.now != nil {
		now = h.now
	}
	if err == nil {
		h.sent.Add(1)
		if h.failing > 0 {
			h.log.Info("heartbeat recovered", "url", publish.Redact(h.URL), "failed_posts", h.failing)
		}
		h.failing = 0
		return
	}
	h.failed.Add(1)
	h.failing++
	if t := now(); h.failing == 1 || t.Sub(h.lastWarn) >= warnEvery {
		h.lastWarn = t
		h.log.Warn("heartbeat failed; will retry", "url", publish.Redact(h.URL), "error", err, "failed_posts", h.failing)
	}
}

// unwrapURL drops the *url.Error wrapper that net/http puts around errors:
// its message quotes the whole URL, query string and all.
func unwrapURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}
