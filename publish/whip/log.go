package whip

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLogs sends pion's logs to slog, a level down: pion warns about
// what is routine for a sender (a candidate pair that did not work, a
// late packet), and its errors are ours to judge (ours are logged as
// what they mean). Without this pion would print on stdout.
type pionLogs struct{ log *slog.Logger }

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{f.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) at(level slog.Level, msg string) {
	l.log.Log(context.Background(), level, msg)
}

func (l pionLogger) Trace(msg string)                  {}
func (l pionLogger) Tracef(format string, args ...any) {}
func (l pionLogger) Debug(msg string)                  { l.at(slog.LevelDebug-4, msg) }
func (l pionLogger) Debugf(format string, args ...any) {
	l.at(slog.LevelDebug-4, fmt.Sprintf(format, args...))
}
func (l pionLogger) Info(msg string) { l.at(slog.LevelDebug, msg) }
func (l pionLogger) Infof(format string, args ...any) {
	l.at(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (l pionLogger) Warn(msg string) { l.at(slog.LevelDebug, msg) }
func (l pionLogger) Warnf(format string, args ...any) {
	l.at(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (l pionLogger) Error(msg string) { l.at(slog.LevelWarn, msg) }
func (l pionLogger) Errorf(format string, args ...any) {
	l.at(slog.LevelWarn, fmt.Sprintf(format, args...))
}
