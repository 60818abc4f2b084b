package testpeer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golive/golive/internal/testutil"
	"golang.org/x/sys/unix"
)

// netnsDir is where `ip netns` keeps the namespaces' bind mounts.
const netnsDir = "/var/run/netns"

// Netns is a network namespace for a test, with its loopback up: a link of
// its own that Shape can slow down, make lossy or cut, without touching the
// host. Processes run in it through Command (nginx through
// NginxConfig.Netns); the test process itself reaches it through Listen and
// Dial. Inside, 127.0.0.1 is the namespace's loopback, so peers and golive
// use the same URLs as on the host.
//
// The loopback is made to carry packets as an Ethernet link would, so that
// tbf shapes it accurately (measured: a 1000 kbit/s link carries a steady
// 936 kbit/s of TCP payload, second after second):
//   - MTU 1500 (`ip link set lo mtu 1500`; it is 65536 by default): a 64 KiB
//     packet is half a second of a 1 Mbit/s link, and tbf drops a packet
//     larger than its bucket rather than queue it.
//   - gso_max_segs 1 (`ip link set lo gso_max_segs 1`, instead of turning
//     GSO/TSO off with ethtool, which is not installed): the loopback
//     offers segmentation offload, so TCP hands it packets of up to 64 KiB
//     whatever the MTU. tbf cuts those into MTU-sized segments itself, but
//     when its queue is full it then drops some segments of a packet and
//     queues the others: holes that TCP repairs by retransmission, after
//     which the receiver gets seconds of data at once (the delivered rate
//     swung between 450 and 1650 kbit/s from one second to the next on a
//     1000 kbit/s link). With one segment a packet, a full queue drops
//     whole packets, which the sending TCP is told of and sends again.
type Netns struct {
	// Name is the name under /var/run/netns (`ip netns exec NAME ...`).
	Name string

	mu        sync.Mutex // serialises Shape
	ingress   bool       // an ingress qdisc (the loss filter) is installed
	closeOnce sync.Once
	closeErr  error
}

// NewNetns creates a network namespace named "golive-" and 8 random hex
// digits, with its loopback up at MTU 1500 and without segmentation
// offload (see Netns). It needs root (CAP_SYS_ADMIN) and `ip` (iproute2).
// Close deletes it.
//
// TCP in the namespace uses the host's default congestion control (a
// namespace may only pick from net.ipv4.tcp_allowed_congestion_control,
// which is global).
func NewNetns() (*Netns, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("testpeer: netns: %w", err)
	}
	n := &Netns{Name: "golive-" + hex.EncodeToString(b[:])}
	if err := run("ip", "netns", "add", n.Name); err != nil {
		return nil, fmt.Errorf("testpeer: netns: %w", err)
	}
	if err := run("ip", "-n", n.Name, "link", "set", "lo", "mtu", "1500", "gso_max_segs", "1", "up"); err != nil {
		n.Close()
		return nil, fmt.Errorf("testpeer: netns %s: %w", n.Name, err)
	}
	return n, nil
}

// StartNetns creates a network namespace for a test (NewNetns) and
// deletes it in t.Cleanup (Close). Without root, `ip` or `tc`, or where the
// kernel refuses a namespace (an unprivileged container), the CI rule
// applies: the test fails when CI=true and is skipped, saying why,
// otherwise (testutil.Missing).
//
// Create it before the peers that run in it: cleanups run last first, so
// their own cleanups (StartNginx's Stop) then run before the namespace
// goes.
func StartNetns(t testing.TB) *Netns {
	t.Helper()
	if os.Geteuid() != 0 {
		testutil.Missing(t, "network namespaces need root (ip netns add), and this process is not root")
	}
	testutil.RequireTool(t, "ip", "tc")
	n, err := NewNetns()
	if err != nil {
		testutil.Missing(t, fmt.Sprintf("cannot create a network namespace (%v)", err))
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

// Close kills every process still in the namespace (SIGKILL; those listed
// by `ip netns pids`), waits up to 5 s for them to go, and deletes the
// namespace. Sockets the test process opened with Listen or Dial keep
// working until closed: the namespace itself lives on while they do. It is
// safe to call more than once and returns the first call's result.
func (n *Netns) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.close() })
	return n.closeErr
}

func (n *Netns) close() error {
	var errs []error
	gone := testutil.WaitFor(5*time.Second, 20*time.Millisecond, func() bool {
		pids, err := n.pids()
		if err != nil {
			return false
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		return len(pids) == 0
	})
	if !gone {
		pids, err := n.pids()
		errs = append(errs, fmt.Errorf("processes %v still running 5s after SIGKILL (%v)", pids, err))
	}
	if err := run("ip", "netns", "del", n.Name); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("testpeer: netns %s: close: %w", n.Name, err)
	}
	return nil
}

// pids returns the processes in the namespace (`ip netns pids NAME`).
func (n *Netns) pids() ([]int, error) {
	out, err := exec.Command("ip", "netns", "pids", n.Name).Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns pids: %w", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Command returns a command that runs name with args inside the namespace
// (`ip netns exec NAME name args...`). ip execs name in place, so the
// command's process is name's own: signals reach it directly.
func (n *Netns) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// CommandContext is Command with a context that kills the process when
// done, as exec.CommandContext.
func (n *Netns) CommandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Listen listens on addr inside the namespace, from the test process (an
// HTTP server that golive inside the namespace reaches on 127.0.0.1, for
// example). See net.Listen.
func (n *Netns) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() (err error) {
		l, err = net.Listen(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("testpeer: netns %s: %w", n.Name, err)
	}
	return l, nil
}

// ListenPacket is Listen for packets (UDP), inside the namespace. See
// net.ListenPacket.
func (n *Netns) ListenPacket(network, addr string) (net.PacketConn, error) {
	var c net.PacketConn
	err := n.Do(func() (err error) {
		c, err = net.ListenPacket(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("testpeer: netns %s: %w", n.Name, err)
	}
	return c, nil
}

// Dial connects to addr inside the namespace, from the test process. See
// net.Dial.
func (n *Netns) Dial(network, addr string) (net.Conn, error) {
	return n.DialContext(context.Background(), network, addr)
}

// DialContext is Dial with a context, which bounds the connection attempt
// (on a lossy link a connect can take minutes). It fits
// http.Transport.DialContext. A name such as localhost is resolved on the
// host (from /etc/hosts); its addresses are tried one after another, inside
// the namespace.
func (n *Netns) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	// No parallel IPv4/IPv6 attempts: those would run on goroutines of
	// their own, outside the namespace.
	d := net.Dialer{FallbackDelay: -1}
	var c net.Conn
	err := n.Do(func() (err error) {
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("testpeer: netns %s: %w", n.Name, err)
	}
	return c, nil
}

// Do runs f on a new goroutine locked to its OS thread, with the thread
// inside the namespace: a socket belongs to the namespace its thread was in
// when it was created, and stays there. The thread goes back to its
// namespace afterwards; if that fails, the goroutine ends still locked and
// the runtime throws the thread away rather than reuse it in the wrong
// namespace.
func (n *Netns) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored := false
		defer func() {
			if restored {
				runtime.UnlockOSThread()
			}
		}()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			restored = true
			errc <- fmt.Errorf("open own namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open(filepath.Join(netnsDir, n.Name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			restored = true
			errc <- fmt.Errorf("open namespace: %w", err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			restored = true // a failed setns leaves the thread where it was
			errc <- fmt.Errorf("enter namespace: %w", err)
			return
		}
		ferr := f()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("leave namespace: %w", err))
			return
		}
		restored = true
		errc <- ferr
	}()
	return <-errc
}

// Link describes how Shape degrades the namespace's loopback. Every packet
// crosses the loopback once, whichever way it goes: the rate is shared by
// both directions (data one way, ACKs the other), loss hits both, and
// a round trip takes 2×Delay. The zero Link is an unshaped loopback.
type Link struct {
	// RateKbit limits the rate to this many kbit/s (1000 bit/s) on the
	// wire, headers included (TCP over it carries about 94% of that as
	// payload); 0 is no limit. tbf queues up to about 250 ms of traffic
	// beyond its burst, then drops.
	RateKbit int
	// LossPercent drops each packet at random with this probability
	// (0–100); 100 cuts the link: connects and transfers time out as on a
	// dead network, with no error until then.
	LossPercent float64
	// Delay holds every packet this long (needs the kernel's netem qdisc).
	Delay time.Duration
	// Port, with RateKbit, limits only the packets sent to this TCP or
	// UDP port (a server's), not the others: one of several destinations
	// on a slow link. The loss and the delay still apply to everything.
	Port int
}

func (l Link) String() string {
	if l.Port != 0 {
		return fmt.Sprintf("rate %d kbit/s to port %d, loss %g%%, delay %v", l.RateKbit, l.Port, l.LossPercent, l.Delay)
	}
	return fmt.Sprintf("rate %d kbit/s, loss %g%%, delay %v", l.RateKbit, l.LossPercent, l.Delay)
}

// Shape replaces the loopback's shaping with l; Shape(Link{}) removes it.
// Connections stay open across a change.
//
// How (tc inside the namespace):
//   - rate: tbf as the root qdisc (handle 1:), burst the larger of 10 ms at
//     the rate and 8 KiB (about 5 packets), latency 250 ms (queue limit:
//     250 ms at the rate, plus the burst);
//   - delay: netem as the root qdisc (handle 2:, or 3: when there is a rate
//     too, with the tbf as its child 30: at 3:1: packets wait out the delay
//     in netem, then queue for the rate). Each layout has its own handle, so
//     that a change within a layout is done in place and a change of layout
//     replaces the root in one step;
//   - loss: not netem but a classic BPF filter on the loopback's ingress
//     qdisc, in direct-action mode: it draws a random number per packet and
//     answers TC_ACT_SHOT (drop) under the threshold. The sender is not told
//     (as with a real lossy link, or netem); TCP finds out by its timers.
//     This needs only cls_bpf and the ingress qdisc, which kernels without
//     netem (such as this project's test machine) have.
//
// A delay on a kernel without netem is an error that wraps
// errors.ErrUnsupported (ShapeT turns it into testutil.Missing). After an error the
// shaping is whatever the commands before the failing one left.
func (n *Netns) Shape(l Link) error {
	if l.RateKbit < 0 || l.Delay < 0 || l.LossPercent < 0 || l.LossPercent > 100 || math.IsNaN(l.LossPercent) ||
		l.Port < 0 || l.Port > 65535 || l.Port != 0 && (l.RateKbit == 0 || l.Delay != 0) {
		return fmt.Errorf("testpeer: netns %s: shape: invalid link (%v)", n.Name, l)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.shapeRoot(l); err != nil {
		return fmt.Errorf("testpeer: netns %s: shape %v: %w", n.Name, l, err)
	}
	if err := n.shapeLoss(l.LossPercent); err != nil {
		return fmt.Errorf("testpeer: netns %s: shape %v: %w", n.Name, l, err)
	}
	return nil
}

// ShapeT is Shape for a test: a kernel that cannot shape as asked (no
// netem for a delay) is testutil.Missing (a failure under CI, a skip elsewhere);
// any other error fails the test.
func (n *Netns) ShapeT(t testing.TB, l Link) {
	t.Helper()
	if err := n.Shape(l); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			testutil.Missing(t, err.Error())
		}
		t.Fatal(err)
	}
}

// shapeRoot sets the root qdisc for the rate and the delay.
func (n *Netns) shapeRoot(l Link) error {
	tbf := func(rateKbit int) []string {
		bytesPerSec := rateKbit * 1000 / 8
		burst := max(bytesPerSec/100, 8<<10)
		return []string{"tbf", "rate", strconv.Itoa(rateKbit) + "kbit",
			"burst", strconv.Itoa(burst), "latency", "250ms"}
	}
	netem := func() []string {
		// The default limit of 1000 packets is 120 ms at 100 Mbit/s.
		return []string{"netem", "delay", strconv.FormatInt(l.Delay.Microseconds(), 10) + "us", "limit", "100000"}
	}
	root := []string{"qdisc", "replace", "dev", "lo", "root"}
	if l.Port != 0 {
		// htb: the port's packets to class 1:1 at the rate (through tbf,
		// for the same queue as without a port), the rest to 1:2, unshaped.
		for _, args := range [][]string{
			append(root, "handle", "4:", "htb", "default", "2", "r2q", "1000"),
			{"class", "replace", "dev", "lo", "parent", "4:", "classid", "4:1", "htb", "rate", strconv.Itoa(l.RateKbit) + "kbit"},
			{"class", "replace", "dev", "lo", "parent", "4:", "classid", "4:2", "htb", "rate", "10gbit"},
			append([]string{"qdisc", "replace", "dev", "lo", "parent", "4:1", "handle", "40:"}, tbf(l.RateKbit)...),
			{"filter", "replace", "dev", "lo", "parent", "4:", "protocol", "ip", "prio", "1", "handle", "800::800", "u32",
				"match", "ip", "dport", strconv.Itoa(l.Port), "0xffff", "flowid", "4:1"},
		} {
			if err := n.tc(args...); err != nil {
				return err
			}
		}
		return nil
	}
	switch {
	case l.Delay == 0 && l.RateKbit == 0:
		// Loopback's own default: no queue at all.
		return n.tc(append(root, "noqueue")...)
	case l.Delay == 0:
		return n.tc(append(root, append([]string{"handle", "1:"}, tbf(l.RateKbit)...)...)...)
	case l.RateKbit == 0:
		return n.tc(append(root, append([]string{"handle", "2:"}, netem()...)...)...)
	default:
		if err := n.tc(append(root, append([]string{"handle", "3:"}, netem()...)...)...); err != nil {
			return err
		}
		return n.tc(append([]string{"qdisc", "replace", "dev", "lo", "parent", "3:1", "handle", "30:"}, tbf(l.RateKbit)...)...)
	}
}

// shapeLoss installs, changes or removes the ingress loss filter.
func (n *Netns) shapeLoss(percent float64) error {
	if percent == 0 {
		if !n.ingress {
			return nil
		}
		if err := n.tc("qdisc", "del", "dev", "lo", "ingress"); err != nil {
			return err
		}
		n.ingress = false
		return nil
	}
	if !n.ingress {
		if err := n.tc("qdisc", "replace", "dev", "lo", "ingress"); err != nil {
			return err
		}
		n.ingress = true
	}
	return n.tc("filter", "replace", "dev", "lo", "parent", "ffff:", "pref", "1", "handle", "1",
		"bpf", "da", "bytecode", lossBytecode(percent))
}

// lossBytecode returns, in tc's bytecode syntax ("count,code jt jf k,..."),
// a classic BPF program that answers TC_ACT_SHOT (2) for a packet with
// probability percent/100 and TC_ACT_UNSPEC (-1: go on as if there were no
// filter) otherwise.
func lossBytecode(percent float64) string {
	const (
		ldRand = "32 0 0 4294963256" // ld rand: BPF_LD|BPF_W|BPF_ABS, k = SKF_AD_OFF + SKF_AD_RANDOM
		shot   = "6 0 0 2"           // ret #TC_ACT_SHOT
		pass   = "6 0 0 4294967295"  // ret #TC_ACT_UNSPEC
	)
	threshold := math.Round(percent / 100 * (1 << 32))
	if threshold >= 1<<32 {
		return "1," + shot
	}
	// A random number at or above the threshold passes; below it, drop.
	jge := fmt.Sprintf("53 1 0 %d", uint32(threshold)) // jge #threshold, pass, shot
	return strings.Join([]string{"4", ldRand, jge, shot, pass}, ",")
}

// tc runs tc inside the namespace. An unknown qdisc kind (a kernel built
// without it) wraps errors.ErrUnsupported.
func (n *Netns) tc(args ...string) error {
	err := run("tc", append([]string{"-n", n.Name}, args...)...)
	if err != nil && strings.Contains(err.Error(), "qdisc kind is unknown") {
		return fmt.Errorf("%w (the kernel lacks this qdisc): %w", err, errors.ErrUnsupported)
	}
	return err
}

// run runs a command and returns its error with its output.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
