package whip

import (
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
)

// nackLimit sits before pion's NACK responder and thins the NACKs it
// sees: a packet is resent at most maxResends times, not again within a
// round trip of the last resend (the receiver could not have seen it
// yet), and resends take at most rtxShare of the pacing rate. Receivers differ: pion's default generator asks for a missing
// packet every 100 ms until it falls out of a 512-packet window. On a
// congested link, answering every request is a retransmission storm that
// takes the link from the media (measured: one packet sent 35 times, GCC's
// estimate stuck at its floor); libwebrtc's sender has the same two rules.
type nackLimit struct {
	interceptor.NoOp
	rtt  func() time.Duration
	rate func() int // bit/s resends share (0: no budget)

	mu     sync.Mutex
	sent   map[uint64]resend // ssrc<<16 | seq
	budget float64           // packets that may be resent now
	filled time.Time
}

type resend struct {
	at time.Time
	n  int
}

const (
	maxResends   = 2
	rtxShare     = 0.15
	rtxPacket    = 1200                  // bytes: a full video packet
	rtxBurst     = 20                    // packets resent back to back at most
	minResendGap = 20 * time.Millisecond // when the RTT is not known yet, or tiny
	resendMemory = 2 * time.Second
)

// nackLimitFactory makes one nackLimit per PeerConnection.
type nackLimitFactory struct {
	rtt  func() time.Duration
	rate func() int
}

func (f nackLimitFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &nackLimit{rtt: f.rtt, rate: f.rate, sent: map[uint64]resend{}, budget: rtxBurst}, nil
}

func (l *nackLimit) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, attr, err := reader.Read(b, a)
		if err != nil {
			return n, attr, err
		}
		if attr == nil {
			attr = make(interceptor.Attributes)
		}
		// The packets are parsed once and cached in attr: what is changed
		// here is what the responder after us sees.
		pkts, err := attr.GetRTCPPackets(b[:n])
		if err != nil {
			return n, attr, err
		}
		for _, p := range pkts {
			if nack, ok := p.(*rtcp.TransportLayerNack); ok {
				l.thin(nack, time.Now())
			}
		}
		return n, attr, nil
	})
}

// thin removes from nack the packets that were resent too often or too
// recently.
func (l *nackLimit) thin(nack *rtcp.TransportLayerNack, now time.Time) {
	gap := max(l.rtt(), minResendGap)
	rate := l.rate()
	l.mu.Lock()
	defer l.mu.Unlock()
	if rate > 0 {
		if !l.filled.IsZero() {
			l.budget += now.Sub(l.filled).Seconds() * float64(rate) * rtxShare / 8 / rtxPacket
		}
		l.budget = min(l.budget, rtxBurst)
	} else {
		l.budget = rtxBurst
	}
	l.filled = now
	if len(l.sent) > 8192 {
		for k, r := range l.sent {
			if now.Sub(r.at) > resendMemory {
				delete(l.sent, k)
			}
		}
	}
	var keep []uint16
	for _, pair := range nack.Nacks {
		for _, seq := range pair.PacketList() {
			k := uint64(nack.MediaSSRC)<<16 | uint64(seq)
			r := l.sent[k]
			if now.Sub(r.at) > resendMemory {
				r = resend{}
			}
			if r.n >= maxResends || (r.n > 0 && now.Sub(r.at) < gap) || l.budget < 1 {
				continue
			}
			l.budget--
			l.sent[k] = resend{now, r.n + 1}
			keep = append(keep, seq)
		}
	}
	nack.Nacks = rtcp.NackPairsFromSequenceNumbers(keep)
}
