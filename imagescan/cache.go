package imagescan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/safebuild/safebuild/image"
	"github.com/safebuild/safebuild/policy"
)

// cacheFormat changes whenever what a cache entry holds changes.
const cacheFormat = 1

// Cache keeps each layer's own scan result on disk, so a layer shared by many images is read
// once. An entry's key covers everything that decides what a scan of that layer reports: the
// layer (diffID and blob digest), the Salt the caller gives (engine build, ruleset, scanner
// options) and the archive and layer limits of the scan. A cached "clean" can therefore only be
// replayed for a scan that would find nothing either. Never use a cache with canaries or with a
// scanner that keeps raw secrets: the first would hide canary findings, the second would write
// secrets to disk.
type Cache struct {
	dir  string
	salt string
}

// NewCache opens (creating) a cache directory. salt must change whenever the engine, its rules
// or its options change; the CLI uses a hash of its own executable, the rules config and flags.
func NewCache(dir string, salt ...string) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("cache directory: empty path")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache directory %s: %w", dir, err)
	}
	h := sha256.New()
	for _, s := range salt {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	return &Cache{dir: dir, salt: hex.EncodeToString(h.Sum(nil))}, nil
}

type cacheEntry struct {
	Format    int             `json:"format"`
	Findings  []cachedFinding `json:"findings"`
	Whiteouts []string        `json:"whiteouts"`
	Opaque    []string        `json:"opaque"`
	Stats     policy.Stats    `json:"stats"`
}

// cachedFinding stores a finding with its severity by name (policy.Severity marshals as text
// but has no text decoder). The outer Severity shadows the embedded one in JSON.
type cachedFinding struct {
	policy.Finding
	Severity string
}

func toCached(fs []policy.Finding) []cachedFinding {
	out := make([]cachedFinding, len(fs))
	for i, f := range fs {
		out[i] = cachedFinding{Finding: f, Severity: f.Severity.String()}
	}
	return out
}

func fromCached(cs []cachedFinding) ([]policy.Finding, error) {
	out := make([]policy.Finding, len(cs))
	for i, c := range cs {
		sev := policy.SeverityUnset
		if c.Severity != "" {
			var err error
			if sev, err = policy.ParseSeverity(c.Severity); err != nil {
				return nil, err
			}
		}
		out[i] = c.Finding
		out[i].Severity = sev
	}
	return out, nil
}

func (c *Cache) path(l *image.Layer, o Options) string {
	h := sha256.New()
	lim, _ := json.Marshal(struct {
		A any
		L any
	}{o.Archives, o.Layers})
	fmt.Fprintf(h, "format=%d;salt=%s;diffid=%s;digest=%s;limits=%s", cacheFormat, c.salt, l.DiffID, l.Digest, lim)
	return filepath.Join(c.dir, hex.EncodeToString(h.Sum(nil))+".json")
}

// get returns the cached result of l, or false. An unreadable or foreign entry is a miss.
func (c *Cache) get(l *image.Layer, o Options) (*cacheEntry, bool) {
	dt, err := os.ReadFile(c.path(l, o))
	if err != nil {
		return nil, false
	}
	var e cacheEntry
	if err := json.Unmarshal(dt, &e); err != nil || e.Format != cacheFormat {
		return nil, false
	}
	return &e, true
}

// put stores l's result, atomically; a failure to write only costs the next scan time.
func (c *Cache) put(l *image.Layer, o Options, e *cacheEntry) {
	e.Format = cacheFormat
	dt, err := json.Marshal(e)
	if err != nil {
		return
	}
	dst := c.path(l, o)
	f, err := os.CreateTemp(c.dir, ".entry-")
	if err != nil {
		return
	}
	_, werr := f.Write(dt)
	cerr := f.Close()
	if werr != nil || cerr != nil || os.Rename(f.Name(), dst) != nil {
		os.Remove(f.Name())
	}
}
