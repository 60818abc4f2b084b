// Command demo is `make demo`: it starts a local nginx-rtmp (temporary
// config, free port, HLS on), pushes 10 s of the 720p test pattern to it
// with golive, shows what the server received and how to watch it, then
// stops the server.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
)

func main() {
	bin := flag.String("golive", "bin/golive", "golive binary")
	dur := flag.Duration("duration", 10*time.Second, "how long to push")
	flag.Parse()
	if err := run(*bin, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(bin string, dur time.Duration) error {
	n, err := testpeer.NewNginx(testpeer.NginxConfig{Record: true, HLS: true})
	if err != nil {
		return err
	}
	defer n.Stop()
	const key = "demo"
	url := n.URL(key)
	fmt.Printf("\n== nginx-rtmp is listening on 127.0.0.1:%d\n", n.Port())
	fmt.Printf("== While it runs, watch with:\n     ffplay %s\n     ffplay %s   (HLS, a few seconds behind)\n\n", url, n.HLSURL(key))
	fmt.Printf("== golive push --preset 720p --duration %v %s\n\n", dur, url)

	cmd := exec.Command(bin, "push", "--preset", "720p", "--duration", dur.String(), url)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("golive: %w", err)
	}
	rec := n.RecordPath(key)
	if err := testutil.WaitRecordingDone(rec, 10*time.Second); err != nil {
		return err
	}
	pr, err := testutil.Probe(rec)
	if err != nil {
		return err
	}
	pk, err := testutil.Packets(rec, "v")
	if err != nil {
		return err
	}
	fmt.Printf("\n== What the server received (ffprobe of its recording %s):\n", rec)
	if v := pr.Video(); v != nil {
		fmt.Printf("   video: %s (%s) %dx%d, %.2f fps, keyframes at %v s\n", v.CodecName, v.Profile, v.Width, v.Height,
			testutil.ParseRate(v.RFrameRate), testutil.KeyframeTimes(pk))
	}
	if a := pr.Audio(); a != nil {
		fmt.Printf("   audio: %s %d Hz, %d channels (%s)\n", a.CodecName, a.SampleRate, a.Channels, a.ChannelLayout)
	}
	fmt.Printf("   duration %.2f s, %d kbit/s\n", pr.Duration, pr.BitRate/1000)
	fmt.Printf("\n== Play the recording: ffplay %s\n   (the server and its files are removed now; GOLIVE_KEEP_PEER=1 keeps them)\n", rec)
	return nil
}
