package testpeer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golive/golive/internal/testutil"
)

// Pulse constants: the null sink every Pulse daemon has, and its format.
const (
	pulseSink     = "golive_sink"
	pulseRate     = 48000
	pulseChannels = 2
)

// Pulse is a private PulseAudio daemon for tests: its own runtime directory,
// socket, state and configuration in a temporary directory, nothing shared
// with a session or system daemon. It has one sink, a null sink named
// Sink() (48000 Hz, 2 channels, s16le) whose monitor source Monitor() is the
// "microphone" a test captures from; PlayTone plays into the sink.
//
// # How it runs, also as root
//
// The daemon is started in the foreground as
//
//	pulseaudio -n --daemonize=no --system=false --use-pid-file=no
//	  --exit-idle-time=-1 --disallow-exit --high-priority=no --realtime=no
//	  --log-target=stderr --log-level=info
//	  -L "module-native-protocol-unix socket=DIR/native auth-anonymous=1 auth-cookie-enabled=0"
//	  -L "module-null-sink sink_name=golive_sink rate=48000 channels=2 ..."
//
// with HOME, XDG_RUNTIME_DIR, XDG_CONFIG_HOME, XDG_STATE_HOME,
// PULSE_RUNTIME_PATH and PULSE_STATE_PATH pointing into DIR: -n skips
// default.pa (no hardware detection, no D-Bus, no suspend-on-idle, no
// stream-restore), so the only modules are the socket and the null sink.
// As root PulseAudio 16.1 (Debian 12) prints "This program is not intended
// to be run as root (unless --system is specified)" and then runs normally
// as a per-user daemon: that warning is expected. --system=false matters:
// the system mode would use /var/run/pulse and drop privileges. The
// anonymous-auth socket needs no cookie; the D-Bus warnings in its log
// (no session bus) are harmless.
//
// Clients reach it through the environment of Env(): PULSE_SERVER names the
// socket (so libpulse never looks for a session daemon), and a client.conf
// with autospawn disabled keeps libpulse from starting a daemon of its own
// once this one has gone.
type Pulse struct {
	dir string
	proc
	stopOnce sync.Once
	stopErr  error

	mu     sync.Mutex
	tones  sync.WaitGroup       // PlayTone goroutines
	cancel []context.CancelFunc // of the tones, called by Stop
}

// NewPulse starts a private PulseAudio daemon in a new temporary
// directory and waits (up to 10 s) until `pactl info` answers on its
// socket. On failure the error includes the tail of the daemon's log.
func NewPulse() (p *Pulse, err error) {
	bin, err := exec.LookPath("pulseaudio")
	if err != nil {
		return nil, fmt.Errorf("testpeer: start pulseaudio: %w", err)
	}
	dir, err := os.MkdirTemp("", "golive-pulse-")
	if err != nil {
		return nil, fmt.Errorf("testpeer: start pulseaudio: %w", err)
	}
	p = &Pulse{dir: dir}
	defer func() {
		if err != nil {
			p.Stop() // its error is about the process we are reporting on
		}
	}()
	for _, sub := range []string{"config", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return p, fmt.Errorf("testpeer: start pulseaudio: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "client.conf"), []byte("autospawn = no\n"), 0o644); err != nil {
		return p, fmt.Errorf("testpeer: start pulseaudio: %w", err)
	}
	logf, err := os.Create(filepath.Join(dir, "pulse.log"))
	if err != nil {
		return p, fmt.Errorf("testpeer: start pulseaudio: %w", err)
	}
	defer logf.Close() // the child has its own copy

	cmd := exec.Command(bin,
		"-n", "--daemonize=no", "--system=false", "--use-pid-file=no",
		"--exit-idle-time=-1", "--disallow-exit",
		"--high-priority=no", "--realtime=no",
		"--log-target=stderr", "--log-level=info",
		"-L", fmt.Sprintf("module-native-protocol-unix socket=%s auth-anonymous=1 auth-cookie-enabled=0",
			p.socket()),
		"-L", fmt.Sprintf("module-null-sink sink_name=%s rate=%d channels=%d format=s16le"+
			" sink_properties=device.description=golive-null-sink", pulseSink, pulseRate, pulseChannels),
	)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HOME="+dir,
		"XDG_RUNTIME_DIR="+dir,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"),
		"PULSE_RUNTIME_PATH="+dir,
		"PULSE_STATE_PATH="+filepath.Join(dir, "state"),
		"DBUS_SESSION_BUS_ADDRESS=disabled:",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := p.start("pulseaudio", cmd, 10*time.Second, func() bool {
		_, err := p.pactl("info")
		return err == nil
	}, p.LogTail); err != nil {
		return p, err
	}
	return p, nil
}

func (p *Pulse) socket() string { return filepath.Join(p.dir, "native") }

// Env returns the environment that makes PulseAudio clients use this daemon:
// PULSE_SERVER (its socket), PULSE_RUNTIME_PATH, PULSE_STATE_PATH and
// PULSE_CLIENTCONFIG (autospawn off), as KEY=VALUE. Append it to a child
// process's environment, or set it in the test process (StartPulse does)
// so that libpulse loaded in-process (miniaudio) connects here.
func (p *Pulse) Env() []string {
	return []string{
		"PULSE_SERVER=unix:" + p.socket(),
		"PULSE_RUNTIME_PATH=" + p.dir,
		"PULSE_STATE_PATH=" + filepath.Join(p.dir, "state"),
		"PULSE_CLIENTCONFIG=" + filepath.Join(p.dir, "client.conf"),
	}
}

// Sink returns the name of the null sink: "golive_sink".
func (p *Pulse) Sink() string { return pulseSink }

// Monitor returns the name of the sink's monitor source,
// "golive_sink.monitor": what is played into Sink() can be recorded from
// it, like a microphone. Its PulseAudio description is
// "Monitor of golive-null-sink".
func (p *Pulse) Monitor() string { return pulseSink + ".monitor" }

// Dir returns the daemon's temporary directory (socket, pulse.log).
func (p *Pulse) Dir() string { return p.dir }

// Command returns an *exec.Cmd for a PulseAudio client program (pactl,
// pacat, parec ...) that talks to this daemon.
func (p *Pulse) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), p.Env()...)
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// pactl runs pactl with args (5 s at most) and returns its output.
func (p *Pulse) pactl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := p.Command(ctx, "pactl", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("pactl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// PlayTone plays a continuous sine of hz at level (peak amplitude, 0..1 of
// full scale) on both channels into Sink(), at the sink's own format (48000
// Hz, stereo, s16le: no resampling, and the null sink and its monitor leave
// the samples as they are), until ctx ends or the daemon stops. It streams
// PCM to `pacat --playback` and returns once the daemon shows the new sink
// input (5 s at most).
func (p *Pulse) PlayTone(ctx context.Context, hz float64, level float64) error {
	if !(hz > 0 && hz < pulseRate/2) || !(level >= 0 && level <= 1) {
		return fmt.Errorf("testpeer: play tone: %g Hz at level %g: want 0 < Hz < %d and level within 0..1",
			hz, level, pulseRate/2)
	}
	before, err := p.sinkInputs()
	if err != nil {
		return fmt.Errorf("testpeer: play tone: %w", err)
	}
	p.mu.Lock()
	select {
	case <-p.done:
		p.mu.Unlock()
		return errors.New("testpeer: play tone: pulseaudio has exited")
	default:
	}
	ctx, cancel := context.WithCancel(ctx)
	p.cancel = append(p.cancel, cancel)
	p.tones.Add(1)
	p.mu.Unlock()

	cmd := p.Command(ctx, "pacat", "--playback", "--raw", "--device="+pulseSink,
		fmt.Sprintf("--rate=%d", pulseRate), fmt.Sprintf("--channels=%d", pulseChannels),
		"--format=s16le", "--latency-msec=50", "--client-name=golive-testpeer-tone")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		cancel()
		p.tones.Done()
		return fmt.Errorf("testpeer: play tone: pacat: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		defer p.tones.Done()
		defer cancel()
		werr := make(chan struct{})
		go func() {
			defer close(werr)
			writeSine(ctx, stdin, hz, level)
			stdin.Close()
		}()
		_ = cmd.Wait() // ends when ctx kills pacat, or when the daemon goes
		close(exited)
		<-werr
	}()

	if !testutil.WaitFor(5*time.Second, 20*time.Millisecond, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		now, err := p.sinkInputs()
		return err == nil && now > before
	}) {
		cancel()
		return errors.New("testpeer: play tone: pacat's stream did not appear within 5s")
	}
	select {
	case <-exited:
		return fmt.Errorf("testpeer: play tone: pacat exited: %s", strings.TrimSpace(stderr.String()))
	default:
	}
	// An idle null sink renders (and so feeds its monitor) in blocks of up
	// to 2 s, and a new stream does not shorten the block under way: a
	// recorder could wait 2 s for its first sample. Suspending and resuming
	// the sink restarts its timer with the new stream's 50 ms latency.
	for _, s := range []string{"1", "0"} {
		if _, err := p.pactl("suspend-sink", pulseSink, s); err != nil {
			cancel()
			return fmt.Errorf("testpeer: play tone: %w", err)
		}
	}
	return nil
}

// sinkInputs counts the daemon's sink inputs (playback streams).
func (p *Pulse) sinkInputs() (int, error) {
	out, err := p.pactl("list", "short", "sink-inputs")
	if err != nil {
		return 0, err
	}
	return strings.Count(out, "\n"), nil
}

// writeSine writes an endless interleaved stereo s16le sine to w, 20 ms at a
// time, until ctx ends or a write fails (pacat gone). The phase is computed
// from the sample index, so the tone has no discontinuity.
func writeSine(ctx context.Context, w io.Writer, hz, level float64) {
	const chunk = pulseRate / 50
	buf := make([]byte, chunk*pulseChannels*2)
	for i := 0; ctx.Err() == nil; {
		for k := 0; k < chunk; k++ {
			// i*hz/rate kept small: fold whole cycles out in float64.
			ph := math.Mod(float64(i)*hz/pulseRate, 1)
			v := int16(math.Round(level * 32767 * math.Sin(2*math.Pi*ph)))
			for c := 0; c < pulseChannels; c++ {
				binary.LittleEndian.PutUint16(buf[(k*pulseChannels+c)*2:], uint16(v))
			}
			i++
		}
		if _, err := w.Write(buf); err != nil {
			return
		}
	}
}

// Kill ends the daemon abruptly (SIGKILL), as a crash would, without
// removing its directory: clients see their connection drop. Stop still
// has to be called (StartPulse does it).
func (p *Pulse) Kill() error {
	if p.cmd == nil {
		return errors.New("testpeer: kill pulseaudio: not started")
	}
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("testpeer: kill pulseaudio: %w", err)
	}
	<-p.done
	return nil
}

// Log returns the daemon's log.
func (p *Pulse) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "pulse.log"))
	return string(b)
}

// LogTail returns the last 30 lines of the daemon's log.
func (p *Pulse) LogTail() string {
	return tail(p.Log())
}

// Stop stops the tones, then the daemon (SIGTERM, SIGKILL after 5 s), waits
// for all of them and removes the directory (kept when the environment has
// GOLIVE_KEEP_PEER=1). It is safe to call more than once and returns the
// first call's result. A daemon that exited on its own (other than through
// Kill) is reported as an error.
func (p *Pulse) Stop() error {
	p.stopOnce.Do(func() { p.stopErr = p.stop() })
	return p.stopErr
}

func (p *Pulse) stop() error {
	p.mu.Lock()
	for _, cancel := range p.cancel {
		cancel()
	}
	p.mu.Unlock()
	var err error
	if p.cmd != nil {
		select {
		case <-p.done:
			if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok ||
				!ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				err = fmt.Errorf("testpeer: pulseaudio exited before Stop (%v):\n%s", p.waitErr, p.LogTail())
			}
		default:
			if p.terminate(syscall.SIGTERM, 5*time.Second) {
				err = errors.New("testpeer: stop pulseaudio: no exit 5s after SIGTERM, killed")
			}
		}
	}
	p.tones.Wait()
	if os.Getenv("GOLIVE_KEEP_PEER") != "1" {
		if rerr := os.RemoveAll(p.dir); rerr != nil && err == nil {
			err = fmt.Errorf("testpeer: stop pulseaudio: %w", rerr)
		}
	}
	return err
}

// StartPulse starts a PulseAudio daemon for a test: it requires pulseaudio,
// pactl and pacat (testutil.RequireTool), fails the test if the daemon does not
// start, sets Env() in the test process with t.Setenv (so the test cannot
// be parallel: t.Setenv panics after t.Parallel) and stops the daemon in
// t.Cleanup, logging its log's tail if the test failed.
func StartPulse(t testing.TB) *Pulse {
	t.Helper()
	testutil.RequireTool(t, "pulseaudio", "pactl", "pacat")
	p, err := NewPulse()
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "pulseaudio", p.Dir(), p.LogTail, p.Stop)
	for _, kv := range p.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return p
}
