package srt

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/media"
)

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
			l := testpeer.StartSRTListener(t, testpeer.SRTListenerConfig{Netns: ns})
			clock := media.NewClock()
			var pub *Publisher
			var err error
			// gosrt makes its UDP socket in Dial; it stays in the namespace
			// it was made in.
			if derr := ns.Do(func() error {
				pub, err = Dial(context.Background(), config(s, fmt.Sprintf("srt://127.0.0.1:%d", l.Port), clock))
				return nil
			}); derr != nil {
				t.Fatal(derr)
			}
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
