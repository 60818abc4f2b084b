package srt

import "context"

// Check connects to cfg.URL and disconnects at once: the handshake is
// where a listener rejects a stream id or a passphrase, so nothing needs
// to be sent and nothing goes on air. Errors are those of Dial.
func Check(ctx context.Context, cfg DialConfig) error {
	c, err := dial(ctx, cfg)
	if err != nil {
		return err
	}
	c.close()
	return nil
}
