package whip

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// TestNackLimit: a packet is resent at most 3 times, never twice within a
// round trip; other packets and other streams are not affected.
func TestNackLimit(t *testing.T) {
	rtt := 50 * time.Millisecond
	l := &nackLimit{rtt: func() time.Duration { return rtt }, rate: func() int { return 0 }, sent: map[uint64]resend{}}
	t0 := time.Unix(1000, 0)
	ask := func(at time.Duration, ssrc uint32, seqs ...uint16) []uint16 {
		n := &rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}
		l.thin(n, t0.Add(at))
		var got []uint16
		for _, p := range n.Nacks {
			got = append(got, p.PacketList()...)
		}
		return got
	}
	for _, tc := range []struct {
		at   time.Duration
		ssrc uint32
		seqs []uint16
		want []uint16
	}{
		{0, 1, []uint16{10, 11, 12}, []uint16{10, 11, 12}},
		{30 * time.Millisecond, 1, []uint16{10, 13}, []uint16{13}},     // 10 again within the RTT
		{60 * time.Millisecond, 1, []uint16{10, 11}, []uint16{10, 11}}, // a round trip later: again
		{30 * time.Millisecond, 2, []uint16{10}, []uint16{10}},         // another stream
		{200 * time.Millisecond, 1, []uint16{10, 11}, nil},             // twice is enough
		{400 * time.Millisecond, 1, []uint16{10, 65535}, []uint16{65535}},
		{3 * time.Second, 1, []uint16{10}, []uint16{10}}, // long forgotten: a new packet with that number
	} {
		if got := ask(tc.at, tc.ssrc, tc.seqs...); !slices.Equal(got, tc.want) {
			t.Errorf("at %v ssrc %d asked %v: resending %v, want %v", tc.at, tc.ssrc, tc.seqs, got, tc.want)
		}
	}
}

// TestNackBudget: resends take at most 15 % of the rate, after a burst.
func TestNackBudget(t *testing.T) {
	l := &nackLimit{rtt: func() time.Duration { return 0 }, rate: func() int { return 1_000_000 }, sent: map[uint64]resend{}, budget: rtxBurst}
	t0 := time.Unix(1000, 0)
	resent := 0
	for i := range 100 { // 100 NACKs of 10 new packets each, over 1 s
		seqs := make([]uint16, 10)
		for j := range seqs {
			seqs[j] = uint16(i*10 + j)
		}
		n := &rtcp.TransportLayerNack{MediaSSRC: 1, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}
		l.thin(n, t0.Add(time.Duration(i)*10*time.Millisecond))
		for _, p := range n.Nacks {
			resent += len(p.PacketList())
		}
	}
	// 1 Mbit/s × 15 % / (8 × 1200 B) ≈ 15.6 packets/s, plus the burst of 20.
	if resent < 30 || resent > 40 {
		t.Errorf("%d packets resent in 1 s at 1 Mbit/s, want about 35", resent)
	}
}
