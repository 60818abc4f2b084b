package audio

import (
	"context"
	"testing"
	"time"

	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/media"
)

func TestProbeTiming(t *testing.T) {
	p := testpeer.StartPulseT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.PlayTone(ctx, 1000, 0.25)
	clock := media.NewClock()
	m, err := Open(Config{Device: p.Monitor(), SampleRate: 48000, Channels: 2, Clock: clock,
		Audio: media.AudioWriterFunc(func(f *media.AudioFrame) error { return nil })})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rctx, rcancel := context.WithTimeout(ctx, 25*time.Second)
	defer rcancel()
	m.Run(rctx)
}
