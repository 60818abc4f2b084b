package packaging

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
)

// distDir is where make dist writes, seen from this package's directory.
const distDir = "../dist"

// An arch is what the tests need to know of one architecture. Debian's names
// for these two are Go's GOARCH too.
type arch struct {
	name    string      // amd64, arm64
	triplet string      // Debian's multiarch directory for its libraries
	machine elf.Machine // what its binary's ELF header says
	qemu    string      // the qemu-user program that runs its binaries elsewhere
}

var arches = []arch{
	{"amd64", "x86_64-linux-gnu", elf.EM_X86_64, "qemu-x86_64-static"},
	{"arm64", "aarch64-linux-gnu", elf.EM_AARCH64, "qemu-aarch64-static"},
}

// wanted reports whether make dist builds a's package on this machine, as the
// Makefile's DIST_ARCHES says: the host's own, and arm64 on an amd64 host.
func (a arch) wanted() bool {
	return a.name == runtime.GOARCH || (runtime.GOARCH == "amd64" && a.name == "arm64")
}

func archNamed(t *testing.T, name string) arch {
	t.Helper()
	for _, a := range arches {
		if a.name == name {
			return a
		}
	}
	t.Fatalf("no architecture %s", name)
	return arch{}
}

// A pkg is one architecture's .deb from dist/, unpacked into a temporary
// directory (never installed).
type pkg struct {
	arch
	deb     string
	root    string            // dpkg-deb -x
	control string            // dpkg-deb -e: DEBIAN/
	fields  map[string]string // of DEBIAN/control
}

// missing fails the test under CI=true (make test runs make dist first) and
// skips it elsewhere, saying why.
func missing(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; make test runs make dist first", what)
	}
	t.Skipf("skipping: %s (make dist writes it)", what)
}

// openPkg finds a's package in dist/ and unpacks it.
func openPkg(t *testing.T, a arch) *pkg {
	t.Helper()
	debs, _ := filepath.Glob(filepath.Join(distDir, "golive_*_"+a.name+".deb"))
	switch {
	case len(debs) == 0 && a.wanted():
		missing(t, "dist/ has no golive_VERSION_"+a.name+".deb")
	case len(debs) == 0:
		t.Skipf("skipping: make dist builds no %s package on %s", a.name, runtime.GOARCH)
	case len(debs) > 1:
		t.Fatalf("dist/ has %d %s packages, want one: %v", len(debs), a.name, debs)
	}
	testutil.RequireTool(t, "dpkg-deb")
	p := &pkg{arch: a, deb: debs[0], root: t.TempDir(), control: t.TempDir()}
	for _, args := range [][]string{{"-x", p.deb, p.root}, {"-e", p.deb, p.control}} {
		if out, err := exec.Command("dpkg-deb", args...).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	b, err := os.ReadFile(filepath.Join(p.control, "control"))
	if err != nil {
		t.Fatal(err)
	}
	p.fields = parseControl(string(b))
	return p
}

// forEachArch runs f as a subtest for each architecture whose package is in
// dist/ (or should be).
func forEachArch(t *testing.T, f func(t *testing.T, p *pkg)) {
	for _, a := range arches {
		t.Run(a.name, func(t *testing.T) { f(t, openPkg(t, a)) })
	}
}

// parseControl reads a Debian control paragraph (continuation lines joined
// with newlines).
func parseControl(s string) map[string]string {
	m := map[string]string{}
	var key string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, " ") && key != "" {
			m[key] += "\n" + l
		} else if k, v, ok := strings.Cut(l, ":"); ok {
			key = k
			m[key] = strings.TrimSpace(v)
		}
	}
	return m
}

// relations are the package names of a Depends- or Recommends-style field
// (alternatives included, versions left out).
func relations(field string) map[string]bool {
	names := map[string]bool{}
	for _, alt := range strings.FieldsFunc(field, func(r rune) bool { return r == ',' || r == '|' }) {
		if f := strings.Fields(alt); len(f) > 0 {
			names[strings.TrimSuffix(f[0], ":any")] = true
		}
	}
	return names
}

// command runs the package's golive: natively on its own architecture, under
// qemu-user elsewhere (qemu-user-static runs it without binfmt; the arm64
// dynamic loader and libraries are multiarch packages of this machine).
func (p *pkg) command(ctx context.Context, t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	bin := filepath.Join(p.root, "usr/bin/golive")
	if p.name == runtime.GOARCH {
		return exec.CommandContext(ctx, bin, args...)
	}
	testutil.RequireTool(t, p.qemu)
	return exec.CommandContext(ctx, p.qemu, append([]string{bin}, args...)...)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPackageContents: each package holds the binary for its architecture,
// the unit and the example configuration as a conffile, its documentation and
// maintainer scripts; the tarball beside it holds the same binary, unit,
// configuration and README.
func TestPackageContents(t *testing.T) {
	forEachArch(t, func(t *testing.T, p *pkg) {
		for k, want := range map[string]string{"Package": "golive", "Architecture": p.name, "Section": "video"} {
			if p.fields[k] != want {
				t.Errorf("%s: %q, want %q", k, p.fields[k], want)
			}
		}
		version := p.fields["Version"]
		if want := "golive_" + version + "_" + p.name + ".deb"; filepath.Base(p.deb) != want {
			t.Errorf("file %s, want %s", filepath.Base(p.deb), want)
		}

		bin := filepath.Join(p.root, "usr/bin/golive")
		if fi, err := os.Stat(bin); err != nil || fi.Mode().Perm() != 0o755 {
			t.Fatalf("usr/bin/golive: %v, %v; want mode 0755", fi, err)
		}
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if f.Machine != p.machine || f.Type != elf.ET_DYN {
			t.Errorf("usr/bin/golive is %v %v, want %v ET_DYN (PIE)", f.Machine, f.Type, p.machine)
		}

		for inPkg, src := range map[string]string{
			"lib/systemd/system/golive.service": "golive.service",
			"etc/golive/golive.yaml":            "../docs/golive.example.yaml",
		} {
			if !bytes.Equal(readFile(t, filepath.Join(p.root, inPkg)), readFile(t, src)) {
				t.Errorf("/%s differs from %s", inPkg, src)
			}
		}
		if got := strings.TrimSpace(string(readFile(t, filepath.Join(p.control, "conffiles")))); got != "/etc/golive/golive.yaml" {
			t.Errorf("conffiles: %q, want /etc/golive/golive.yaml", got)
		}
		for _, s := range []string{"postinst", "prerm", "postrm"} {
			if fi, err := os.Stat(filepath.Join(p.control, s)); err != nil || fi.Mode().Perm() != 0o755 {
				t.Errorf("maintainer script %s: %v, %v; want mode 0755", s, fi, err)
			}
		}
		for _, doc := range []string{"copyright", "changelog.gz", "README.md.gz"} {
			if _, err := os.Stat(filepath.Join(p.root, "usr/share/doc/golive", doc)); err != nil {
				t.Error(err)
			}
		}

		// The tarball.
		name := "golive_" + version + "_linux_" + p.name
		files := untar(t, filepath.Join(distDir, name+".tar.gz"))
		want := map[string][]byte{
			name + "/golive":              readFile(t, bin),
			name + "/golive.service":      readFile(t, "golive.service"),
			name + "/golive.example.yaml": readFile(t, "../docs/golive.example.yaml"),
			name + "/README.md":           readFile(t, "../README.md"),
		}
		for path, b := range want {
			if got, ok := files[path]; !ok {
				t.Errorf("%s.tar.gz: no %s", name, path)
			} else if !bytes.Equal(got, b) {
				t.Errorf("%s.tar.gz: %s differs from the package's", name, path)
			}
		}
		if len(files) != len(want) {
			t.Errorf("%s.tar.gz has %d files, want %d", name, len(files), len(want))
		}
	})
}

// untar reads the regular files of a .tar.gz.
func untar(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h.Typeflag == tar.TypeReg {
			if files[h.Name], err = io.ReadAll(tr); err != nil {
				t.Fatalf("%s: %s: %v", path, h.Name, err)
			}
		}
	}
}

// TestDependsCoverLibraries: every library the binary needs (its ELF NEEDED
// entries) is in a package that Depends names, as dpkg -S finds it on this
// machine; and so are the sound libraries miniaudio opens with dlopen (ALSA's
// in Depends, PulseAudio's in Recommends).
func TestDependsCoverLibraries(t *testing.T) {
	testutil.RequireTool(t, "dpkg-query")
	forEachArch(t, func(t *testing.T, p *pkg) {
		f, err := elf.Open(filepath.Join(p.root, "usr/bin/golive"))
		if err != nil {
			t.Fatal(err)
		}
		needed, err := f.ImportedLibraries()
		f.Close()
		if err != nil || len(needed) == 0 {
			t.Fatalf("NEEDED: %v, %v", needed, err)
		}
		depends, recommends := relations(p.fields["Depends"]), relations(p.fields["Recommends"])
		t.Logf("NEEDED %v; Depends: %s; Recommends: %s", needed, p.fields["Depends"], p.fields["Recommends"])
		check := func(soname, field string, names map[string]bool) {
			owner, err := ownerOf(p.arch, soname)
			if err != nil {
				t.Error(err)
			} else if !names[owner] {
				t.Errorf("%s is in %s:%s, which %s does not name", soname, owner, p.name, field)
			}
		}
		for _, so := range needed {
			check(so, "Depends", depends)
		}
		check("libasound.so.2", "Depends", depends)
		check("libpulse.so.0", "Recommends", recommends)
	})
}

// ownerOf is the installed package of a's library soname (dpkg -S).
func ownerOf(a arch, soname string) (string, error) {
	for _, dir := range []string{"/lib/" + a.triplet, "/usr/lib/" + a.triplet, "/lib", "/usr/lib"} {
		path := filepath.Join(dir, soname)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		out, err := exec.Command("dpkg-query", "-S", path).Output()
		if err != nil {
			continue // usrmerge: dpkg may know the file by the other directory
		}
		for _, l := range strings.Split(string(out), "\n") {
			// "libavcodec59:arm64: /usr/lib/aarch64-linux-gnu/libavcodec.so.59"
			if pkgArch, _, ok := strings.Cut(l, ": "); ok && !strings.HasPrefix(l, "diversion ") {
				name, _, _ := strings.Cut(pkgArch, ":")
				return name, nil
			}
		}
	}
	return "", errors.New("no installed " + a.name + " package has " + soname + " (make deps-dist)")
}

// TestLintian: lintian finds no error in either package; its warnings are
// logged.
func TestLintian(t *testing.T) {
	testutil.RequireTool(t, "lintian")
	forEachArch(t, func(t *testing.T, p *pkg) {
		out, err := exec.Command("lintian", p.deb).CombinedOutput()
		var errs []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			switch {
			case l == "" || strings.Contains(l, "root privileges is not recommended"):
			case strings.HasPrefix(l, "E: "):
				errs = append(errs, l)
			default:
				t.Log(l)
			}
		}
		if len(errs) > 0 {
			t.Errorf("lintian %s:\n%s", filepath.Base(p.deb), strings.Join(errs, "\n"))
		} else if err != nil {
			t.Errorf("lintian %s: %v\n%s", filepath.Base(p.deb), err, out)
		}
	})
}

// TestUnitVerifies: systemd-analyze verify finds nothing to say about the
// package's unit (any output fails). It checks that ExecStart= is
// executable, so it verifies a copy whose ExecStart= is the host package's
// unpacked binary.
func TestUnitVerifies(t *testing.T) {
	testutil.RequireTool(t, "systemd-analyze")
	p := openPkg(t, archNamed(t, runtime.GOARCH))
	bin := filepath.Join(p.root, "usr/bin/golive")
	unit := string(readFile(t, filepath.Join(p.root, "lib/systemd/system/golive.service")))
	const exec0 = "\nExecStart=/usr/bin/golive "
	if !strings.Contains(unit, exec0) {
		t.Fatalf("the unit has no %q", strings.TrimSpace(exec0))
	}
	copy := filepath.Join(t.TempDir(), "golive.service")
	if err := os.WriteFile(copy, []byte(strings.Replace(unit, exec0, "\nExecStart="+bin+" ", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", copy).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify golive.service: %v\n%s", err, out)
	}
}

// TestVersionRuns: each package's golive, run from the unpacked package (under
// qemu-user for the other architecture), says its version and the FFmpeg
// libraries it found.
func TestVersionRuns(t *testing.T) {
	forEachArch(t, func(t *testing.T, p *pkg) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := p.command(ctx, t, "version").CombinedOutput()
		if err != nil {
			t.Fatalf("golive version: %v\n%s", err, out)
		}
		first, _, _ := strings.Cut(string(out), "\n")
		if !strings.HasPrefix(first, "golive ") || !strings.Contains(first, "linux/"+p.name) ||
			!strings.Contains(string(out), "libavcodec 59.") {
			t.Errorf("golive version says:\n%s", out)
		}
		t.Logf("%s", first)
	})
}

// TestArm64Push: the arm64 package's golive (under qemu-user on another
// machine) pushes 6 s of the 360p test pattern to nginx-rtmp, and what nginx
// recorded decodes as H.264 640x360. Under qemu the encoder may not keep up
// with 30 fps: how many frames arrived is logged, not held to 30 fps.
func TestArm64Push(t *testing.T) {
	p := openPkg(t, archNamed(t, "arm64"))
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	const key = "arm64push"

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := p.command(ctx, t, "push", "--preset", "360p", "--duration", "6s", "--status", "off",
		"--log-format", "json", n.URL(key)).CombinedOutput()
	if err != nil {
		t.Fatalf("golive push: %v\n%s", err, out)
	}
	took := time.Since(start)

	rec := n.RecordPath(key)
	pr := testutil.ProbeRecordingT(t, rec)
	v := pr.Video()
	if v == nil || v.CodecName != "h264" || v.Width != 640 || v.Height != 360 {
		t.Fatalf("recording has streams %+v, want h264 640x360 video", pr.Streams)
	}
	if dec, err := exec.Command("ffmpeg", "-v", "error", "-i", rec, "-f", "null", "-").CombinedOutput(); err != nil || len(dec) > 0 {
		t.Errorf("ffmpeg decoding the recording: %v\n%s", err, dec)
	}
	pkts, err := testutil.Packets(rec, "v")
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) == 0 || !pkts[0].Keyframe {
		t.Fatalf("%d video packets, the first a keyframe: %v", len(pkts), len(pkts) > 0 && pkts[0].Keyframe)
	}
	var stopped map[string]any
	if ls := testutil.LogLines(string(out), "stopped"); len(ls) == 1 {
		stopped = ls[0]
	}
	t.Logf("%d video frames arrived (%.1f a second of the 6 s), %.1f s of media; golive ran %.1f s; stopped line: %v",
		len(pkts), float64(len(pkts))/6, pr.Duration, took.Seconds(), stopped)
}
