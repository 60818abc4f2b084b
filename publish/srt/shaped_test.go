package srt

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/media"
)

// inNetns runs f on a thread inside ns: gosrt makes its UDP socket in
// Dial, and a socket stays in the namespace it was made in. (testpeer's
// Netns.do does the same but is not exported.)
func inNetns(t *testing.T, ns *testpeer.Netns, f func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // not unlocked on failure: the thread is dropped
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- err
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open(filepath.Join("/var/run/netns", ns.Name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- err
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		f()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		runtime.UnlockOSThread()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestShapedLink: on a link narrower than the stream (tbf, 600 kbit/s for
// about 1.4 Mbit/s of TS), what waits to be sent (the queue's media time,
// plus the unacknowledged bytes at the link's rate, as the bitrate
// controller adds them) grows past a second; on the free link it stays
// near zero.
func TestShapedLink(t *testing.T) {
	s := stream(t)
	ns := testpeer.StartNetns(t)
	const rate = 600 // kbit/s
	for _, shaped := range []bool{false, true} {
		t.Run(fmt.Sprintf("shaped=%v", shaped), func(t *testing.T) {
			if shaped {
				ns.ShapeT(t, testpeer.Link{RateKbit: rate})
				defer ns.Shape(testpeer.Link{})
			}
			l := startListenerIn(t, ns, 0, "", "out.ts")
			clock := media.NewClock()
			var pub *Publisher
			var err error
			inNetns(t, ns, func() {
				pub, err = Dial(context.Background(), config(s, fmt.Sprintf("srt://127.0.0.1:%d", l.port), clock))
			})
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- pub.Run(ctx) }()
			fed := make(chan struct{})
			go func() { feed(ctx, pub, s, clock, 0, 6*time.Second); close(fed) }()

			var worst time.Duration
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
		loop:
			for {
				select {
				case <-fed:
					break loop
				case <-tick.C:
				}
				st := pub.Stats()
				wait := st.QueueDelay + time.Duration(int64(st.Unsent)*8*int64(time.Second)/(rate*1000))
				worst = max(worst, wait)
				t.Logf("%5.1f s: queue %v (%d dropped), unsent %d B, rtt %v, loss %.2f: waiting %v",
					clock.Now().Seconds(), st.QueueDelay.Round(time.Millisecond), st.VideoDropped, st.Unsent, st.RTT.Round(time.Millisecond), st.Loss, wait.Round(time.Millisecond))
			}
			cancel()
			<-errc
			if shaped && worst < time.Second {
				t.Errorf("at most %v waiting on a link of half the stream's rate: the congestion does not show", worst)
			}
			if !shaped && worst > 300*time.Millisecond {
				t.Errorf("%v waiting on a free link", worst)
			}
		})
	}
}
