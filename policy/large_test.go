package policy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// peakHeap runs f while sampling the live heap, and returns the peak growth over the heap
// before f ran.
func peakHeap(t *testing.T, f func()) uint64 {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	var mu sync.Mutex
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			mu.Lock()
			peak = max(peak, m.HeapAlloc)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(stop)
	<-done
	if peak < base {
		return 0
	}
	return peak - base
}

// flatLimit is the heap growth a scan may cause whatever its input: per-job windows (~2.3 MiB
// each), findings, GC slack.
const flatLimit = 48 << 20

func TestFlatMemorySparse20GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("large input; skipped with -short")
	}
	p := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(20 << 30); err != nil {
		t.Skipf("cannot create a sparse file here: %v", err)
	}
	f.Close()
	s := newTestScanner(t)
	var st Stats
	grow := peakHeap(t, func() { _, st = scanSource(t, s, &FS{Root: p}) })
	if st.Skipped != 1 || st.Bytes > 4<<20 {
		t.Errorf("stats %+v: a 20 GiB run of NULs must be sniffed as binary and skipped after one window", st)
	}
	if grow > flatLimit {
		t.Errorf("heap grew by %d MiB", grow>>20)
	}
}

func TestFlatMemorySingleLine50MB(t *testing.T) {
	if testing.Short() {
		t.Skip("large input; skipped with -short")
	}
	p := filepath.Join(t.TempDir(), "bundle.min.js")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	chunk := strings.Repeat("var a=b+c;", 1<<16)
	for written := 0; written < 50e6; written += len(chunk) {
		f.WriteString(chunk)
	}
	f.WriteString("var t='" + testPAT + "';")
	f.Close()
	s := newTestScanner(t)
	var fs []Finding
	var st Stats
	grow := peakHeap(t, func() { fs, st = scanSource(t, s, &FS{Root: p}) })
	if !hasRule(fs, "github-pat") || fs[0].Line != 1 {
		t.Errorf("secret at the end of a 50 MB line: %+v", fs)
	}
	if st.Bytes < 50e6 {
		t.Errorf("read %d bytes", st.Bytes)
	}
	if grow > flatLimit {
		t.Errorf("heap grew by %d MiB", grow>>20)
	}
}

func TestFlatMemory100kFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("large input; skipped with -short")
	}
	dir := fastTempDir(t)
	const n = 100_000
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("d%03d", i/1000))
		if i%1000 == 0 {
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		content := fmt.Sprintf("package p%d\n\nconst name = \"file %d\"\n", i, i)
		if i%10_000 == 0 {
			content += "const tok = \"" + testPAT + "\"\n"
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%d.go", i)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := newTestScanner(t)
	var found int
	var st Stats
	grow := peakHeap(t, func() {
		var err error
		st, err = s.Scan(context.Background(), &FS{Root: dir}, func(f Finding) error {
			if f.RuleID == "github-pat" {
				found++
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	if st.Files != n || found != n/10_000 {
		t.Errorf("files %d findings %d, want %d and %d", st.Files, found, n, n/10_000)
	}
	if grow > flatLimit {
		t.Errorf("heap grew by %d MiB", grow>>20)
	}
}

// fastTempDir returns a temporary directory on a RAM-backed filesystem when there is one:
// creating 100k files on a busy disk takes minutes, and the test is about the scanner's memory.
func fastTempDir(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "safebuild-test-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}
