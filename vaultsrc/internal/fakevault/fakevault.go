// Package fakevault is an in-process stand-in for the few Vault endpoints vaultsrc calls
// (logins, KV v1/v2 and logical reads, the mounts lookup, token renew/revoke/lookup-self,
// unwrap), with just enough policy checking to test permission errors. It is for unit
// tests only; integration tests use a real Vault server.
package fakevault

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// RootToken is allowed everything.
const RootToken = "root-token-for-tests"

// Grant is what a login hands out.
type Grant struct {
	// Allowed are policy paths; a trailing "*" matches any suffix.
	Allowed []string
	// TTL is the token's lease duration in seconds; default 600.
	TTL int
	// Renewable says whether renew-self works at all.
	Renewable bool
}

// JWTRole is a JWT auth role.
type JWTRole struct {
	BoundAudiences []string
	BoundClaims    map[string]string
	Grant          Grant
}

// Request is one request the server saw.
type Request struct {
	Method, Path, RawQuery string
	HasToken               bool
	Namespace, WrapTTL     string
	Body                   string
}

type token struct {
	grant    Grant
	revoked  bool
	renewals int
}

type kvMount struct {
	version int
	// data maps a path to its versions (index 0 = version 1); a nil map is a deleted version.
	data map[string][]map[string]any
}

// Server is the fake. Configure it with its methods before use; every method is safe for
// concurrent use with requests.
type Server struct {
	*httptest.Server
	// Key signs and verifies JWTs.
	Key *ecdsa.PrivateKey

	mu         sync.Mutex
	tokens     map[string]*token
	kv         map[string]*kvMount
	logical    map[string]map[string]any
	jwtRoles   map[string]JWTRole // "mount/role"
	appRoles   map[string][2]string
	loginGrant Grant
	k8sRoles   map[string]string // role -> service-account token
	wrapped    map[string]map[string]any
	denyLookup bool
	sealed     bool
	forceWrap  bool
	requests   []Request
	nextID     int
}

// New starts a fake Vault; it is closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		Key:      key,
		tokens:   map[string]*token{RootToken: {grant: Grant{Allowed: []string{"*"}, TTL: 0}}},
		kv:       map[string]*kvMount{},
		logical:  map[string]map[string]any{},
		jwtRoles: map[string]JWTRole{},
		appRoles: map[string][2]string{},
		k8sRoles: map[string]string{},
		wrapped:  map[string]map[string]any{},
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// MountKV mounts a KV engine of version 1 or 2 at path.
func (s *Server) MountKV(path string, version int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kv[strings.Trim(path, "/")] = &kvMount{version: version, data: map[string][]map[string]any{}}
}

// PutKV writes a new version of a KV secret (KV v1 keeps only the latest).
func (s *Server) PutKV(mount, path string, data map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.kv[mount]
	if m.version == 1 {
		m.data[path] = []map[string]any{data}
		return
	}
	m.data[path] = append(m.data[path], data)
}

// DeleteKVVersion soft-deletes one KV v2 version.
func (s *Server) DeleteKVVersion(mount, path string, version int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kv[mount].data[path][version-1] = nil
}

// PutLogical serves data at a raw API path (a transit, totp or database read).
func (s *Server) PutLogical(path string, data map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logical[path] = data
}

// AddJWTRole adds a role to the JWT auth mount.
func (s *Server) AddJWTRole(mount, role string, r JWTRole) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jwtRoles[mount+"/"+role] = r
}

// AddAppRole accepts roleID/secretID at auth/approle.
func (s *Server) AddAppRole(roleID, secretID string, g Grant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appRoles[roleID] = [2]string{secretID}
	s.loginGrant = g
}

// AddKubernetesRole accepts saToken for role at auth/kubernetes.
func (s *Server) AddKubernetesRole(role, saToken string, g Grant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.k8sRoles[role] = saToken
	s.loginGrant = g
}

// Wrap stores data behind a single-use wrapping token and returns the token.
func (s *Server) Wrap(data map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	w := fmt.Sprintf("hvs.wrap-%d", s.nextID)
	s.wrapped[w] = data
	return w
}

// AddToken registers a token with a grant, as if created out of band.
func (s *Server) AddToken(tok string, g Grant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = &token{grant: g}
}

// SetDenyMountLookup makes sys/internal/ui/mounts answer 403.
func (s *Server) SetDenyMountLookup(deny bool) { s.mu.Lock(); s.denyLookup = deny; s.mu.Unlock() }

// SetSealed makes every request answer 503 "Vault is sealed".
func (s *Server) SetSealed(sealed bool) { s.mu.Lock(); s.sealed = sealed; s.mu.Unlock() }

// SetForceWrap makes every read answer with wrap_info instead of data.
func (s *Server) SetForceWrap(on bool) { s.mu.Lock(); s.forceWrap = on; s.mu.Unlock() }

// Requests returns the requests seen so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// TokenState reports whether tok exists, is revoked, and how often it was renewed.
func (s *Server) TokenState(tok string) (exists, revoked bool, renewals int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tok]
	if !ok {
		return false, false, 0
	}
	return true, t.revoked, t.renewals
}

// IssuedTokens lists the tokens logins created, sorted.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.tokens {
		if strings.HasPrefix(k, "hvs.login-") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Mint signs claims with s.Key as an ES256 JWT.
func (s *Server) Mint(t testing.TB, claims map[string]any) string {
	t.Helper()
	return MintWith(t, s.Key, claims)
}

// MintWith signs claims with key as an ES256 JWT.
func MintWith(t testing.TB, key *ecdsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "test"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// GitHubClaims returns GitHub-Actions-shaped claims for repo and branch, valid for five
// minutes.
func GitHubClaims(aud, repo, branch string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss":              "https://token.actions.githubusercontent.com",
		"sub":              "repo:" + repo + ":ref:refs/heads/" + branch,
		"aud":              aud,
		"iat":              now.Unix(),
		"nbf":              now.Add(-5 * time.Second).Unix(),
		"exp":              now.Add(5 * time.Minute).Unix(),
		"repository":       repo,
		"repository_owner": strings.Split(repo, "/")[0],
		"ref":              "refs/heads/" + branch,
		"ref_type":         "branch",
		"event_name":       "push",
		"run_id":           "42",
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func vaultErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"errors": []string{msg}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	var raw []byte
	if r.Body != nil {
		dec := json.NewDecoder(r.Body)
		_ = dec.Decode(&body)
		raw, _ = json.Marshal(body)
	}
	tok := r.Header.Get("X-Vault-Token")
	path := strings.TrimPrefix(r.URL.Path, "/v1/")

	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: path, RawQuery: r.URL.RawQuery,
		HasToken: tok != "", Namespace: r.Header.Get("X-Vault-Namespace"),
		WrapTTL: r.Header.Get("X-Vault-Wrap-TTL"), Body: string(raw)})

	if s.sealed {
		vaultErr(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	}
	if r.Header.Get("X-Vault-Wrap-TTL") != "" || (s.forceWrap && r.Method == http.MethodGet) {
		writeJSON(w, http.StatusOK, map[string]any{"wrap_info": map[string]any{
			"token": "hvs.wrapped", "ttl": 60, "creation_path": path}})
		return
	}

	switch {
	case strings.HasPrefix(path, "auth/") && strings.HasSuffix(path, "/login") && r.Method != http.MethodGet:
		s.login(w, strings.TrimSuffix(strings.TrimPrefix(path, "auth/"), "/login"), body)
		return
	case path == "sys/wrapping/unwrap":
		wt, _ := body["token"].(string)
		if wt == "" {
			wt = tok
		}
		data, ok := s.wrapped[wt]
		if !ok {
			vaultErr(w, http.StatusBadRequest, "wrapping token is not valid or does not exist")
			return
		}
		delete(s.wrapped, wt)
		writeJSON(w, http.StatusOK, map[string]any{"data": data})
		return
	}

	t, ok := s.tokens[tok]
	if !ok || t.revoked {
		vaultErr(w, http.StatusForbidden, "permission denied")
		return
	}
	switch path {
	case "auth/token/revoke-self":
		if !allowed(t.grant, path) {
			vaultErr(w, http.StatusForbidden, "permission denied")
			return
		}
		t.revoked = true
		w.WriteHeader(http.StatusNoContent)
		return
	case "auth/token/renew-self":
		if !allowed(t.grant, path) || !t.grant.Renewable {
			vaultErr(w, http.StatusForbidden, "permission denied")
			return
		}
		t.renewals++
		writeJSON(w, http.StatusOK, map[string]any{"auth": map[string]any{
			"client_token": tok, "lease_duration": ttl(t.grant), "renewable": true}})
		return
	case "auth/token/lookup-self":
		if !allowed(t.grant, path) {
			vaultErr(w, http.StatusForbidden, "permission denied")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
			"ttl": ttl(t.grant), "renewable": t.grant.Renewable, "policies": []string{"test"}}})
		return
	}
	if r.Method != http.MethodGet {
		vaultErr(w, http.StatusMethodNotAllowed, "unsupported by the fake")
		return
	}
	if p, ok := strings.CutPrefix(path, "sys/internal/ui/mounts/"); ok {
		s.lookupMount(w, t, p)
		return
	}
	if !allowed(t.grant, path) {
		vaultErr(w, http.StatusForbidden, "1 error occurred:\n\t* permission denied\n\n")
		return
	}
	s.read(w, r, path)
}

func ttl(g Grant) int {
	if g.TTL == 0 {
		return 600
	}
	return g.TTL
}

func allowed(g Grant, path string) bool {
	for _, a := range g.Allowed {
		if p, ok := strings.CutSuffix(a, "*"); ok && strings.HasPrefix(path, p) || a == path {
			return true
		}
	}
	return false
}

func (s *Server) issue(w http.ResponseWriter, g Grant, meta map[string]string) {
	s.nextID++
	tok := fmt.Sprintf("hvs.login-%d", s.nextID)
	s.tokens[tok] = &token{grant: g}
	writeJSON(w, http.StatusOK, map[string]any{"auth": map[string]any{
		"client_token": tok, "accessor": "acc-" + strconv.Itoa(s.nextID), "policies": []string{"safebuild-ci"},
		"token_policies": []string{"safebuild-ci"}, "lease_duration": ttl(g), "renewable": g.Renewable,
		"metadata": meta}})
}

func (s *Server) login(w http.ResponseWriter, mount string, body map[string]any) {
	switch mount {
	case "approle":
		rid, _ := body["role_id"].(string)
		sid, _ := body["secret_id"].(string)
		if want, ok := s.appRoles[rid]; !ok || want[0] != sid {
			vaultErr(w, http.StatusBadRequest, "invalid role or secret ID")
			return
		}
		s.issue(w, s.loginGrant, nil)
		return
	case "kubernetes":
		role, _ := body["role"].(string)
		j, _ := body["jwt"].(string)
		if want, ok := s.k8sRoles[role]; !ok || want != j {
			vaultErr(w, http.StatusForbidden, "permission denied")
			return
		}
		s.issue(w, s.loginGrant, nil)
		return
	}
	role, _ := body["role"].(string)
	raw, _ := body["jwt"].(string)
	rc, ok := s.jwtRoles[mount+"/"+role]
	if !ok {
		vaultErr(w, http.StatusBadRequest, fmt.Sprintf("role %q could not be found", role))
		return
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		vaultErr(w, http.StatusBadRequest, "error validating token: "+err.Error())
		return
	}
	var std jwt.Claims
	var all map[string]any
	if err := tok.Claims(&s.Key.PublicKey, &std, &all); err != nil {
		vaultErr(w, http.StatusBadRequest, "error validating token: failed to verify id token signature")
		return
	}
	if err := std.ValidateWithLeeway(jwt.Expected{AnyAudience: rc.BoundAudiences, Time: time.Now()}, 0); err != nil {
		if err == jwt.ErrInvalidAudience {
			vaultErr(w, http.StatusBadRequest, "error validating token: invalid audience (aud) claim: audience claim does not match any expected audience")
			return
		}
		vaultErr(w, http.StatusBadRequest, "error validating token: "+err.Error())
		return
	}
	meta := map[string]string{"role": role}
	for k, want := range rc.BoundClaims {
		if got, _ := all[k].(string); got != want {
			vaultErr(w, http.StatusBadRequest, fmt.Sprintf("error validating claims: claim %q does not match any associated bound claim values", k))
			return
		}
		meta[k] = want
	}
	s.issue(w, rc.Grant, meta)
}

// mountFor finds the longest KV mount prefix of path.
func (s *Server) mountFor(path string) (string, *kvMount) {
	best := ""
	for m := range s.kv {
		if (path == m || strings.HasPrefix(path, m+"/")) && len(m) > len(best) {
			best = m
		}
	}
	return best, s.kv[best]
}

func (s *Server) lookupMount(w http.ResponseWriter, t *token, p string) {
	if s.denyLookup {
		vaultErr(w, http.StatusForbidden, "permission denied")
		return
	}
	name, m := s.mountFor(p)
	if m == nil {
		for lp := range s.logical {
			if mnt, _, _ := strings.Cut(lp, "/"); strings.HasPrefix(p, mnt+"/") {
				writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
					"path": mnt + "/", "type": "transit", "options": nil}})
				return
			}
		}
		vaultErr(w, http.StatusForbidden, "preflight capability check returned 403, please ensure client's policies grant access to path \""+p+"/\"")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
		"path": name + "/", "type": "kv", "options": map[string]any{"version": strconv.Itoa(m.version)}}})
}

func (s *Server) read(w http.ResponseWriter, r *http.Request, path string) {
	if d, ok := s.logical[path]; ok {
		writeJSON(w, http.StatusOK, map[string]any{"data": d, "lease_id": path + "/lease", "lease_duration": 60, "renewable": true})
		return
	}
	name, m := s.mountFor(path)
	if m == nil {
		vaultErr(w, http.StatusNotFound, "")
		return
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(path, name), "/")
	if m.version == 1 {
		vs := m.data[rel]
		if len(vs) == 0 {
			writeJSON(w, http.StatusNotFound, map[string]any{"errors": []string{}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": vs[0]})
		return
	}
	if mrel, ok := strings.CutPrefix(rel, "metadata/"); ok {
		vs := m.data[mrel]
		if len(vs) == 0 {
			writeJSON(w, http.StatusNotFound, map[string]any{"errors": []string{}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"current_version": len(vs), "oldest_version": 1}})
		return
	}
	rel, ok := strings.CutPrefix(rel, "data/")
	if !ok {
		vaultErr(w, http.StatusNotFound, "")
		return
	}
	vs := m.data[rel]
	if len(vs) == 0 {
		writeJSON(w, http.StatusNotFound, map[string]any{"errors": []string{}})
		return
	}
	v := len(vs)
	if q := r.URL.Query().Get("version"); q != "" {
		v, _ = strconv.Atoi(q)
		if v < 1 || v > len(vs) {
			writeJSON(w, http.StatusNotFound, map[string]any{"errors": []string{}})
			return
		}
	}
	meta := map[string]any{"version": v, "created_time": "2026-01-01T00:00:00Z", "deletion_time": "", "destroyed": false}
	if vs[v-1] == nil {
		meta["deletion_time"] = "2026-01-02T00:00:00Z"
		writeJSON(w, http.StatusNotFound, map[string]any{"data": map[string]any{"data": nil, "metadata": meta}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"data": vs[v-1], "metadata": meta}})
}
