package testpeer

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golive/golive/internal/testutil"
)

// Debian's nginx module files (nginx-common, libnginx-mod-rtmp,
// libnginx-mod-stream).
const (
	rtmpModule   = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
	streamModule = "/usr/lib/nginx/modules/ngx_stream_module.so"
)

// NginxConfig selects the features of an nginx-rtmp server started by
// NewNginx. The zero value is a plain live server on application "live".
//
// What a client sees:
//   - DenyPublish: nginx-rtmp answers connect (NetConnection.Connect.Success)
//     and createStream normally, and even answers publish with onStatus
//     NetStream.Publish.Start (its live module runs before the access
//     check); then it logs "access forbidden by rule" and closes the TCP
//     connection (FIN: the client's next read gets EOF, a later write
//     EPIPE). No error status is ever sent. ffmpeg 5.1 opens the output
//     successfully, then fails writing with "Broken pipe" and exits 1.
//   - Record: the file is written while publishing and closed when the
//     publisher disconnects. A denied publish leaves an empty file (the
//     record module also runs before the access check). nginx-rtmp writes no duration into the FLV
//     metadata; ffprobe works it out from the timestamps.
//   - Netns: nginx runs inside the namespace and listens on its loopback.
//     The URLs are the same (127.0.0.1 inside is the namespace's
//     loopback) but reach it only from inside: from golive started with
//     Netns.Command, or from the test through Netns.Dial.
type NginxConfig struct {
	// App is the RTMP application name; "live" when empty.
	App string
	// DenyPublish adds `deny publish all;`: every publish is refused.
	DenyPublish bool
	// Record adds `record all;` into Dir()/rec with record_unique off, so a
	// publish to key K is written to RecordPath(K).
	Record bool
	// HLS adds `hls on;` (2 s fragments into Dir()/hls) and an HTTP server
	// on another free port serving them at HLSURL(key).
	HLS bool
	// RTMPS adds a TLS front (nginx stream module) on another free port that
	// proxies to the RTMP port, with a certificate for 127.0.0.1 and
	// localhost signed by a fresh CA whose PEM file is CAFile().
	RTMPS bool
	// RecordAppend adds `record_append on;`: a publish to a key whose file
	// exists continues it instead of starting it again. nginx-rtmp then
	// shifts the new session's timestamps to follow the file's last one, so
	// a publisher that reconnects makes one continuous recording.
	RecordAppend bool
	// Port is the RTMP port (0: a free one), for a test that must know it
	// before the server starts.
	Port int
	// DropIdlePublisher adds `drop_idle_publisher`: nginx-rtmp closes a
	// publisher that has sent no audio or video for this long (rounded to
	// milliseconds; 0 is never). A publisher whose TCP connection died in
	// an outage can then publish the same key again once the link is back;
	// until then nginx refuses it ("already publishing", checked by ping
	// only every 30 s). The timer starts with the publisher's first audio
	// or video message: one that never sends media is not dropped. nginx
	// logs "live: drop idle publisher" when it drops one.
	DropIdlePublisher time.Duration
	// Netns runs nginx inside this network namespace (StartNetns) instead of
	// on the host. Its ports are picked with testutil.FreePort on the host, which is
	// as good as anywhere: nothing else listens in a fresh namespace.
	Netns *Netns
}

// Nginx is a running nginx-rtmp server in its own temporary directory. It
// runs in the foreground as a single process (daemon off, master_process
// off). Kill and Restart crash and restart it; stop it with Stop.
type Nginx struct {
	cfg                     NginxConfig
	dir                     string
	port, tlsPort, httpPort int
	stopOnce                sync.Once
	stopErr                 error

	mu      sync.Mutex // the process: proc, stopped, exitErr
	proc               // cmd is nil while killed
	stopped bool
	exitErr error // nginx had exited on its own before Kill
}

// NewNginx writes a config for cfg into a new temporary directory, starts
// nginx on free ports and waits (up to 10 s) until its ports accept TCP
// connections. On failure the error includes the tail of nginx's logs.
func NewNginx(cfg NginxConfig) (*Nginx, error) {
	if cfg.App == "" {
		cfg.App = "live"
	}
	bin, err := nginxBinary()
	if err != nil {
		return nil, fmt.Errorf("testpeer: start nginx: %w", err)
	}
	// A port from testutil.FreePort can be taken before nginx binds it: retry then.
	for attempt := 1; ; attempt++ {
		n, err := startNginx(bin, cfg)
		if err == nil {
			return n, nil
		}
		if attempt == 3 || !strings.Contains(err.Error(), "Address already in use") {
			return nil, err
		}
	}
}

func startNginx(bin string, cfg NginxConfig) (n *Nginx, err error) {
	dir, err := os.MkdirTemp("", "golive-nginx-")
	if err != nil {
		return nil, fmt.Errorf("testpeer: start nginx: %w", err)
	}
	n = &Nginx{cfg: cfg, dir: dir}
	defer func() {
		if err != nil {
			n.Stop() // its error is about the process we are reporting on
		}
	}()
	ports := []*int{&n.port}
	if cfg.HLS {
		ports = append(ports, &n.httpPort)
	}
	if cfg.RTMPS {
		ports = append(ports, &n.tlsPort)
		if err := writeCerts(filepath.Join(dir, "tls")); err != nil {
			return n, fmt.Errorf("testpeer: start nginx: %w", err)
		}
	}
	for i, p := range ports {
		if i == 0 && cfg.Port > 0 {
			*p = cfg.Port
			continue
		}
		if *p, err = testutil.FreePort(); err != nil {
			return n, fmt.Errorf("testpeer: start nginx: %w", err)
		}
	}
	for _, sub := range []string{"rec", "hls", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return n, fmt.Errorf("testpeer: start nginx: %w", err)
		}
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(n.config()), 0o644); err != nil {
		return n, fmt.Errorf("testpeer: start nginx: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.run(bin); err != nil {
		return n, err
	}
	return n, nil
}

// run starts nginx with the config in its directory and waits (up to 10 s)
// until its ports accept connections. The caller holds n.mu.
func (n *Nginx) run(bin string) error {
	stderr, err := os.OpenFile(filepath.Join(n.dir, "stderr.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("testpeer: start nginx: %w", err)
	}
	defer stderr.Close() // the child has its own copy
	args := []string{"-p", n.dir + "/", "-c", filepath.Join(n.dir, "nginx.conf")}
	cmd := exec.Command(bin, args...)
	if n.cfg.Netns != nil {
		cmd = n.cfg.Netns.Command(bin, args...)
	}
	cmd.Dir = n.dir
	cmd.Stdout, cmd.Stderr = stderr, stderr
	n.proc = proc{}
	if err := n.start("nginx", cmd, 10*time.Second, n.listening, n.logTail); err != nil {
		return fmt.Errorf("%w (ports %v)", err, n.portList())
	}
	return nil
}

// listening reports whether all of nginx's ports accept a connection.
func (n *Nginx) listening() bool {
	for _, p := range n.portList() {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		var c net.Conn
		var err error
		if n.cfg.Netns != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			c, err = n.cfg.Netns.DialContext(ctx, "tcp", addr)
			cancel()
		} else {
			c, err = net.DialTimeout("tcp", addr, time.Second)
		}
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// config renders nginx.conf.
func (n *Nginx) config() string {
	q := func(parts ...string) string { return strconv.Quote(filepath.Join(parts...)) }
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("daemon off;")
	p("master_process off;") // one process: no user switch, runs as the caller
	p("pid %s;", q(n.dir, "nginx.pid"))
	p("error_log %s info;", q(n.dir, "error.log"))
	p("load_module %s;", rtmpModule)
	if n.cfg.RTMPS {
		p("load_module %s;", streamModule)
	}
	p("events { worker_connections 256; }")
	p("rtmp {")
	p("  server {")
	p("    listen 127.0.0.1:%d;", n.port)
	p("    chunk_size 4096;")
	p("    ping 30s;")
	p("    ping_timeout 30s;")
	p("    application %s {", n.cfg.App)
	p("      live on;")
	if n.cfg.DenyPublish {
		p("      deny publish all;")
	}
	if n.cfg.Record {
		p("      record all;")
		p("      record_path %s;", q(n.dir, "rec"))
		p("      record_unique off;")
	}
	if n.cfg.RecordAppend {
		p("      record_append on;")
	}
	if n.cfg.DropIdlePublisher > 0 {
		p("      drop_idle_publisher %dms;", max(n.cfg.DropIdlePublisher.Milliseconds(), 1))
	}
	if n.cfg.HLS {
		p("      hls on;")
		p("      hls_path %s;", q(n.dir, "hls"))
		p("      hls_fragment 2s;")
	}
	p("    }")
	p("  }")
	p("}")
	if n.cfg.HLS {
		p("http {")
		p("  access_log off;")
		for _, t := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
			p("  %s_temp_path %s;", t, q(n.dir, "tmp", t))
		}
		p("  server {")
		p("    listen 127.0.0.1:%d;", n.httpPort)
		p("    location /hls/ {")
		p("      types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }")
		p("      root %s;", q(n.dir))
		p("      add_header Cache-Control no-cache;")
		p("    }")
		p("  }")
		p("}")
	}
	if n.cfg.RTMPS {
		p("stream {")
		p("  server {")
		p("    listen 127.0.0.1:%d ssl;", n.tlsPort)
		p("    ssl_certificate %s;", q(n.dir, "tls", "server.pem"))
		p("    ssl_certificate_key %s;", q(n.dir, "tls", "server.key"))
		p("    proxy_pass 127.0.0.1:%d;", n.port)
		p("  }")
		p("}")
	}
	return b.String()
}

// URL returns the RTMP URL to publish or play key: rtmp://127.0.0.1:PORT/APP/KEY.
func (n *Nginx) URL(key string) string {
	return fmt.Sprintf("rtmp://127.0.0.1:%d/%s/%s", n.port, n.cfg.App, key)
}

// RTMPSURL returns the RTMPS URL for key through the TLS front
// (rtmps://127.0.0.1:TLSPORT/APP/KEY); empty unless NginxConfig.RTMPS.
func (n *Nginx) RTMPSURL(key string) string {
	if !n.cfg.RTMPS {
		return ""
	}
	return fmt.Sprintf("rtmps://127.0.0.1:%d/%s/%s", n.tlsPort, n.cfg.App, key)
}

// HLSURL returns the HTTP URL of key's HLS playlist
// (http://127.0.0.1:P/hls/KEY.m3u8); empty unless NginxConfig.HLS.
func (n *Nginx) HLSURL(key string) string {
	if !n.cfg.HLS {
		return ""
	}
	return fmt.Sprintf("http://127.0.0.1:%d/hls/%s.m3u8", n.httpPort, key)
}

// Port returns the RTMP port.
func (n *Nginx) Port() int { return n.port }

// Dir returns the server's temporary directory (config, logs, rec/, hls/).
func (n *Nginx) Dir() string { return n.dir }

// CAFile returns the path of the PEM file of the CA that signed the RTMPS
// certificate; empty unless NginxConfig.RTMPS.
func (n *Nginx) CAFile() string {
	if !n.cfg.RTMPS {
		return ""
	}
	return filepath.Join(n.dir, "tls", "ca.pem")
}

// RecordPath returns where a publish to key is recorded (Dir()/rec/KEY.flv)
// when NginxConfig.Record is set. See testutil.WaitRecordingDone.
func (n *Nginx) RecordPath(key string) string {
	return filepath.Join(n.dir, "rec", key+".flv")
}

// ErrorLog returns the contents of nginx's error log (level info: it has
// one line per RTMP connect, publish and disconnect).
func (n *Nginx) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	return string(b)
}

// logTail returns the last lines of nginx's stderr and error log.
func (n *Nginx) logTail() string {
	stderr, _ := os.ReadFile(filepath.Join(n.dir, "stderr.log"))
	return tail(string(stderr) + "\n" + n.ErrorLog())
}

func (n *Nginx) portList() []int {
	ps := []int{n.port}
	for _, p := range []int{n.httpPort, n.tlsPort} {
		if p != 0 {
			ps = append(ps, p)
		}
	}
	return ps
}

// Kill ends nginx abruptly (SIGKILL), as a crash would, and waits for it:
// the kernel closes its connections (a publisher's next write fails, with
// a reset if nginx had unread data) and its ports refuse connections. Its
// directory, recordings included, stays for Restart. Killing a killed or
// stopped nginx does nothing. An nginx that had already exited on its own
// is reported by Stop.
func (n *Nginx) Kill() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped || n.cmd == nil {
		return nil
	}
	if n.exited() {
		n.exitErr = fmt.Errorf("testpeer: nginx exited before Kill (%v):\n%s", n.waitErr, n.logTail())
	} else if err := n.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("testpeer: kill nginx: %w", err)
	}
	<-n.done
	n.cmd = nil
	return nil
}

// Restart starts nginx again after Kill, with the same configuration,
// directory and ports, and waits (up to 10 s) until its ports accept
// connections. Recordings continue (record_append) or start again, as the
// configuration says. If it does not come up, it is killed again and the
// error has the tail of its logs.
func (n *Nginx) Restart() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.stopped:
		return errors.New("testpeer: restart nginx: stopped")
	case n.cmd != nil:
		return errors.New("testpeer: restart nginx: still running (Kill it first)")
	}
	bin, err := nginxBinary()
	if err != nil {
		return fmt.Errorf("testpeer: restart nginx: %w", err)
	}
	if err := n.run(bin); err != nil {
		if n.cmd != nil {
			if !n.exited() {
				_ = n.cmd.Process.Kill()
			}
			<-n.done
			n.cmd = nil
		}
		return err
	}
	return nil
}

// Stop stops nginx and removes its directory (kept when the environment has
// GOLIVE_KEEP_PEER=1). It sends SIGQUIT, waits up to 5 s, then SIGKILL, and
// always waits for the process. It is safe to call more than once and
// returns the first call's result; an nginx that had already exited on its
// own (not through Kill) is reported as an error. After Kill without
// Restart there is no process to stop: Stop removes the directory.
//
// With master_process off, nginx exits on SIGQUIT without a graceful
// shutdown of open connections: stop publishers (and testutil.WaitRecordingDone)
// before Stop when a recording must be complete.
func (n *Nginx) Stop() error {
	n.stopOnce.Do(func() { n.stopErr = n.stop() })
	return n.stopErr
}

func (n *Nginx) stop() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stopped = true
	err := n.shutdown("nginx", syscall.SIGQUIT, n.dir, n.logTail)
	return errors.Join(n.exitErr, err)
}

// StartNginx starts nginx for a test: it requires the tools (RequireNginxRTMP,
// and the stream module for RTMPS), fails the test if nginx does not start,
// and stops nginx in t.Cleanup, logging the error log tail if the test failed.
func StartNginx(t testing.TB, cfg NginxConfig) *Nginx {
	t.Helper()
	RequireNginxRTMP(t)
	if cfg.RTMPS {
		requireFile(t, streamModule)
	}
	n, err := NewNginx(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "nginx", n.Dir(), n.logTail, n.Stop)
	return n
}

// nginxBinary finds nginx in PATH or, as Debian installs it in /usr/sbin
// (not in a normal user's PATH), there.
func nginxBinary() (string, error) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx", nil
	}
	return "", errors.New("nginx not found in PATH or /usr/sbin")
}

// writeCerts writes ca.pem, server.pem and server.key into dir: a fresh CA
// and a server certificate it signed for 127.0.0.1, ::1 and localhost.
func writeCerts(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "golive testpeer CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("certificates: CA: %w", err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		return fmt.Errorf("certificates: CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("certificates: server: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("certificates: server key: %w", err)
	}
	files := []struct {
		name, typ string
		der       []byte
		mode      os.FileMode
	}{
		{"ca.pem", "CERTIFICATE", caDER, 0o644},
		{"server.pem", "CERTIFICATE", leafDER, 0o644},
		{"server.key", "PRIVATE KEY", keyDER, 0o600},
	}
	for _, f := range files {
		var b bytes.Buffer
		pem.Encode(&b, &pem.Block{Type: f.typ, Bytes: f.der})
		if err := os.WriteFile(filepath.Join(dir, f.name), b.Bytes(), f.mode); err != nil {
			return fmt.Errorf("certificates: %w", err)
		}
	}
	return nil
}
