// Package record is the local recording: a sender, like publish/rtmp's
// Publisher, that muxes the packets into files (MP4, Matroska, FLV or
// MPEG-TS, by the path's extension) with publish/mux.
//
// It never waits for the network and never drops because of it: the
// packets wait in its own queue, bounded generously (30 s or 64 MiB), for
// one goroutine (Run) that writes them to disk. A disk that cannot keep
// up beyond that loses packets, counted, with a warning a second at most.
//
// What a crash or a power cut costs: the file is flushed at every keyframe
// and every half second of media in between (an MP4 is fragmented, each
// flush closing a fragment; a Matroska file a cluster), and synced to disk
// every two seconds, so a kill -9 loses about half a second and a power
// cut about two, and what is there plays.
//
// A failure to write (a full disk, an I/O error) stops the recording with
// one warning; the stream goes on without it and Run returns nil. The file
// is cut back to the last flush, so that it plays.
package record

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golive/golive/media"
	"github.com/golive/golive/publish"
	"github.com/golive/golive/publish/mux"
)

// ErrBadPath: the recording cannot be made as configured — an extension
// other than .mp4, .mkv, .flv or .ts, an unknown strftime verb, a directory
// that does not exist or cannot be written, audio the container cannot
// carry (Opus in FLV). A configuration error, reported by Open before
// anything goes live.
var ErrBadPath = errors.New("bad recording path")

// formats maps the extensions to libavformat's muxers.
var formats = map[string]string{".mp4": "mp4", ".mkv": "matroska", ".flv": "flv", ".ts": "mpegts"}

// Defaults of Config's bounds.
const (
	DefaultMaxQueue      = 30 * time.Second
	DefaultMaxQueueBytes = 64 << 20
	DefaultFlushInterval = 500 * time.Millisecond
	DefaultSyncInterval  = 2 * time.Second
)

// Config configures a Recorder.
type Config struct {
	// Path is the file to write; its extension chooses the container
	// (.mp4, .mkv, .flv, .ts). strftime verbs (see Expand) are replaced
	// with the local time at which each file opens. A name that exists
	// is never overwritten: -1, -2, … is added before the extension.
	Path string
	// Segment: 0 for one file; else a new file starts at the first
	// keyframe after Segment of media time. Timestamps go on across files.
	Segment time.Duration
	Video   media.VideoConfig
	Audio   *media.AudioConfig // nil: no audio
	// TimeOffset is added to every timestamp (pass AudioConfig.Delay).
	TimeOffset time.Duration
	Logger     *slog.Logger

	// MaxQueue and MaxQueueBytes bound what waits for the disk
	// (DefaultMaxQueue, DefaultMaxQueueBytes when zero).
	MaxQueue      time.Duration
	MaxQueueBytes int
	// FlushInterval: the file is flushed at every keyframe and after this
	// much media time without one (DefaultFlushInterval when zero).
	// SyncInterval: it is synced to disk at a flush at most this often
	// (DefaultSyncInterval when zero).
	FlushInterval, SyncInterval time.Duration
	// Now tells the time for file names (time.Now when nil).
	Now func() time.Time
}

// Recorder writes packets to files. WritePacket never blocks; Run writes.
type Recorder struct {
	cfg    Config
	format string
	log    *slog.Logger

	mu          sync.Mutex
	queue       []*media.Packet
	queueBytes  int
	waitKey     bool // drop video until a keyframe
	finished    bool
	stopped     bool // a write failed: discard everything
	err         error
	files       []string
	lastDropLog time.Time
	wake        chan struct{}

	// Run's goroutine only.
	mux       *mux.Muxer
	path      string
	video     media.VideoConfig // the current file's
	fileStart time.Duration     // DTS of the current file's first keyframe
	lastFlush time.Duration     // DTS at the last flush
	lastSync  time.Time
	goodSize  int64           // the file's size at the last flush: it plays up to there
	doneBytes int64           // bytes of the files closed
	early     []*media.Packet // audio before the first keyframe

	bytes, packets             atomic.Int64
	videoDropped, audioDropped atomic.Int64
	queueDelay                 atomic.Int64
	queueLen                   atomic.Int64
}

// Open checks cfg — the extension, the strftime verbs, that the directory
// exists and can be written, that the container takes the codecs — and
// returns a Recorder, which opens its first file at the first keyframe.
// Every error wraps ErrBadPath.
func Open(cfg Config) (*Recorder, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = DefaultMaxQueue
	}
	if cfg.MaxQueueBytes <= 0 {
		cfg.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = DefaultSyncInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Segment < 0 {
		return nil, fmt.Errorf("record: segment %v: %w: must not be negative", cfg.Segment, ErrBadPath)
	}
	format, err := checkPath(cfg.Path, cfg.Now())
	if err != nil {
		return nil, err
	}
	r := &Recorder{cfg: cfg, format: format, log: cfg.Logger.With("component", "publish.record"),
		waitKey: true, wake: make(chan struct{}, 1), video: cfg.Video}
	// The container must take the codecs: a header to nowhere tells.
	m, err := mux.New(io.Discard, r.muxConfig(cfg.Video))
	if err != nil {
		return nil, fmt.Errorf("record: %s: %w: %w", cfg.Path, ErrBadPath, err)
	}
	m.Close()
	return r, nil
}

// checkDir says whether dir exists and files can be made in it.
func checkDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".golive-record-check-*")
	if err != nil {
		return fmt.Errorf("cannot write in %s: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

func (r *Recorder) muxConfig(v media.VideoConfig) mux.Config {
	c := mux.Config{Format: r.format, Video: v, Audio: r.cfg.Audio, TimeOffset: r.cfg.TimeOffset}
	if r.format == "mp4" {
		c.Options = map[string]string{"movflags": mux.FragmentedMP4}
	}
	return c
}

// WritePacket queues pkt for the disk. It never blocks. Video waits for a
// keyframe (a file starts on one); past MaxQueue or MaxQueueBytes the
// packet is dropped (video then waits for a keyframe again). After a
// failure, or Finish, packets are discarded.
func (r *Recorder) WritePacket(pkt *media.Packet) error {
	r.mu.Lock()
	if r.finished || r.stopped {
		r.mu.Unlock()
		return nil
	}
	video := pkt.Kind == media.KindVideo
	if video && r.waitKey && !pkt.Keyframe {
		r.mu.Unlock()
		r.videoDropped.Add(1)
		return nil
	}
	if len(r.queue) > 0 && (pkt.DTS-r.queue[0].DTS > r.cfg.MaxQueue || r.queueBytes+len(pkt.Data) > r.cfg.MaxQueueBytes) {
		if video {
			r.waitKey = true
			r.videoDropped.Add(1)
		} else {
			r.audioDropped.Add(1)
		}
		if now := time.Now(); now.Sub(r.lastDropLog) >= time.Second {
			r.lastDropLog = now
			r.log.Warn("recording queue full (the disk is too slow): dropping",
				"queue", (pkt.DTS - r.queue[0].DTS).Round(time.Millisecond), "queue_bytes", r.queueBytes,
				"video_total", r.videoDropped.Load(), "audio_total", r.audioDropped.Load())
		}
		r.mu.Unlock()
		return nil
	}
	if video && pkt.Keyframe {
		r.waitKey = false
	}
	r.queue = append(r.queue, pkt)
	r.queueBytes += len(pkt.Data)
	r.queueLen.Store(int64(len(r.queue)))
	r.queueDelay.Store(int64(pkt.DTS - r.queue[0].DTS))
	r.mu.Unlock()
	r.signal()
	return nil
}

func (r *Recorder) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// pop takes the oldest queued packet (nil when none), and says whether
// the stream is over.
func (r *Recorder) pop() (pkt *media.Packet, finished bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) > 0 {
		pkt = r.queue[0]
		r.queue[0] = nil
		r.queue = r.queue[1:]
		r.queueBytes -= len(pkt.Data)
		r.queueLen.Store(int64(len(r.queue)))
		if len(r.queue) > 0 {
			r.queueDelay.Store(int64(r.queue[len(r.queue)-1].DTS - r.queue[0].DTS))
		} else {
			r.queueDelay.Store(0)
		}
	}
	return pkt, r.finished
}

// Finish says no more packets will come: Run writes what is queued,
// closes the file and returns nil.
func (r *Recorder) Finish() {
	r.mu.Lock()
	r.finished = true
	r.mu.Unlock()
	r.signal()
}

// Run writes the queued packets until Finish (then it closes the file and
// returns nil) or ctx is done (it closes the file and returns ctx.Err()).
// A failure to write stops the recording and Run, which returns nil too
// (the stream goes on without it; Err says why).
func (r *Recorder) Run(ctx context.Context) error {
	defer r.closeFile()
	for {
		pkt, finished := r.pop()
		if pkt != nil {
			r.write(pkt)
			if r.isStopped() {
				return nil // a write failed: Err says why; the stream goes on
			}
			continue
		}
		if finished {
			return nil
		}
		select {
		case <-r.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// write muxes pkt, opening, flushing and cutting files on keyframes.
func (r *Recorder) write(pkt *media.Packet) {
	if r.isStopped() {
		return
	}
	if pkt.Kind == media.KindVideo && pkt.Keyframe {
		changed := pkt.Config != nil && !bytes.Equal(pkt.Config.Record, r.video.Record)
		if r.mux == nil || changed || r.cfg.Segment > 0 && pkt.DTS-r.fileStart >= r.cfg.Segment {
			r.closeFile()
			if pkt.Config != nil {
				r.video = *pkt.Config
			}
			if !r.openFile(pkt.DTS) {
				return
			}
			if r.writeEarly(pkt.DTS); r.mux == nil {
				return
			}
		} else if !r.flush(pkt.DTS) {
			return
		}
	} else if r.mux != nil && pkt.DTS-r.lastFlush >= r.cfg.FlushInterval {
		if !r.flush(pkt.DTS) {
			return
		}
	}
	if r.mux == nil {
		r.hold(pkt)
		return
	}
	if err := r.mux.WritePacket(pkt); err != nil {
		r.stop(err)
		return
	}
	r.packets.Add(1)
	r.bytes.Store(r.doneBytes + r.mux.Bytes())
}

// hold keeps audio that comes before the first keyframe: what goes with
// the first picture (the encoder's priming) goes in the file with it.
func (r *Recorder) hold(pkt *media.Packet) {
	if pkt.Kind != media.KindAudio {
		return
	}
	if len(r.early) == maxEarly {
		r.early = append(r.early[:0], r.early[1:]...)
	}
	r.early = append(r.early, pkt)
}

// maxEarly bounds the audio held before the first keyframe.
const maxEarly = 16

// writeEarly writes the held audio that is not before a keyframe at key,
// the encoder's delay allowed.
func (r *Recorder) writeEarly(key time.Duration) {
	early := r.early
	r.early = nil
	for _, p := range early {
		if p.DTS+r.cfg.TimeOffset < key {
			continue
		}
		if err := r.mux.WritePacket(p); err != nil {
			r.stop(err)
			return
		}
		r.packets.Add(1)
	}
}

// flush pushes what the muxer holds to the file, and syncs the file when
// SyncInterval has passed since the last sync.
func (r *Recorder) flush(at time.Duration) bool {
	r.lastFlush = at
	if err := r.mux.Flush(); err != nil {
		r.stop(err)
		return false
	}
	r.goodSize = r.mux.Bytes()
	r.bytes.Store(r.doneBytes + r.goodSize)
	if now := time.Now(); now.Sub(r.lastSync) >= r.cfg.SyncInterval {
		r.lastSync = now
		if err := r.mux.Sync(); err != nil {
			r.stop(err)
			return false
		}
	}
	return true
}

// openFile starts a file at a keyframe of DTS at.
func (r *Recorder) openFile(at time.Duration) bool {
	name, err := Expand(r.cfg.Path, r.cfg.Now())
	if err != nil { // Open checked the pattern
		r.stop(err)
		return false
	}
	if dir := filepath.Dir(name); strings.Contains(filepath.Dir(r.cfg.Path), "%") {
		// A directory by date: the first file's was checked by Open.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			r.path = name
			r.stop(err)
			return false
		}
	}
	r.path = r.unique(name)
	m, err := mux.Create(r.path, r.muxConfig(r.video))
	if err != nil {
		r.stop(err)
		return false
	}
	r.mux = m
	r.mu.Lock()
	r.files = append(r.files, r.path)
	r.mu.Unlock()
	r.fileStart, r.lastFlush = at, at
	r.goodSize = m.Bytes()
	r.lastSync = time.Now()
	r.log.Info("recording", "path", r.path, "size", fmt.Sprintf("%dx%d", r.video.Width, r.video.Height))
	return true
}

// unique is name, or name with -1, -2, … before its extension, whichever
// is neither a file nor one of this recording's.
func (r *Recorder) unique(name string) string {
	ext := filepath.Ext(name)
	base := strings.TrimSuffix(name, ext)
	for i := 0; ; i++ {
		n := name
		if i > 0 {
			n = base + "-" + strconv.Itoa(i) + ext
		}
		if _, err := os.Lstat(n); errors.Is(err, os.ErrNotExist) && !r.opened(n) {
			return n
		}
	}
}

func (r *Recorder) opened(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.files {
		if f == name {
			return true
		}
	}
	return false
}

// closeFile writes the current file's trailer and closes it.
func (r *Recorder) closeFile() {
	if r.mux == nil {
		return
	}
	m := r.mux
	r.mux = nil
	if err := m.Close(); err != nil {
		r.stopWith(err, m)
		return
	}
	r.doneBytes += m.Bytes()
	r.bytes.Store(r.doneBytes)
}

func (r *Recorder) isStopped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopped
}

// stop ends the recording after err: one warning, the file closed and cut
// back to its last flush, and every packet discarded from now on.
func (r *Recorder) stop(err error) {
	m := r.mux
	r.mux = nil
	r.stopWith(err, m)
}

func (r *Recorder) stopWith(err error, m *mux.Muxer) {
	r.mu.Lock()
	first := !r.stopped
	r.stopped = true
	if first {
		r.err = fmt.Errorf("record: %s: %w", r.path, err)
	}
	clear(r.queue)
	r.queue, r.queueBytes = r.queue[:0], 0
	r.queueLen.Store(0)
	r.queueDelay.Store(0)
	r.mu.Unlock()
	if m != nil {
		m.Close() // the trailer is skipped after a failure
		r.doneBytes += r.goodSize
		if st, err := os.Stat(r.path); err == nil && st.Size() > r.goodSize {
			os.Truncate(r.path, r.goodSize) // a half-written fragment would not play
		}
	}
	r.bytes.Store(r.doneBytes)
	if first {
		r.log.Warn("recording stopped: the stream goes on without it", "path", r.path, "error", err)
	}
}

// Err is the failure that stopped the recording, or nil.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Files are the paths of the files opened so far, in order.
func (r *Recorder) Files() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.files...)
}

// Shed does nothing: a recording never sheds (it is not a network path).
func (r *Recorder) Shed() {}

// Stats returns a snapshot of the counters: Bytes written to disk,
// Packets muxed, packets dropped because the disk could not keep up (and
// video before the first keyframe), the media time waiting in the queue;
// Sessions counts the files opened.
func (r *Recorder) Stats() publish.Stats {
	r.mu.Lock()
	files := len(r.files)
	r.mu.Unlock()
	return publish.Stats{
		Bytes: r.bytes.Load(), Packets: r.packets.Load(),
		VideoDropped: r.videoDropped.Load(), AudioDropped: r.audioDropped.Load(),
		QueueDelay: time.Duration(r.queueDelay.Load()), QueuePackets: int(r.queueLen.Load()),
		Sessions: files,
	}
}

// Close stops the recording at once: what is queued is discarded, and Run
// closes the file properly and returns. Idempotent.
func (r *Recorder) Close() {
	r.mu.Lock()
	r.finished = true
	clear(r.queue)
	r.queue, r.queueBytes = r.queue[:0], 0
	r.queueLen.Store(0)
	r.mu.Unlock()
	r.signal()
}
