package rtmp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golive/golive/publish"
)

// Check connects and publishes to cfg.URL, waits out the refusal window
// (nginx-rtmp's deny publish answers Publish.Start, then hangs up), and
// ends the publish at once with FCUnpublish and deleteStream: no media is
// sent and nothing goes on air. Errors are those of Dial.
func Check(ctx context.Context, cfg DialConfig) error {
	c, err := dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.close(true)
	t := time.NewTimer(time.Until(c.started.Add(refusalWindow)))
	defer t.Stop()
	select {
	case err := <-c.readErr:
		if errors.Is(err, publish.ErrUnauthorized) {
			return err
		}
		return fmt.Errorf("%w: %s: %v", publish.ErrConnect, c.target, err)
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
