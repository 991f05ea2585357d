package vaultsrc_test

import (
	"context"
	"fmt"
	"log"

	"github.com/moby/buildkit/session/secrets/secretsprovider"

	"github.com/safebuild/safebuild/vaultsrc"
	"github.com/safebuild/safebuild/vaultsrc/ciauth"
)

func ExampleParseRef() {
	r, err := vaultsrc.ParseRef("vault:kv2:secret//ci/npm.json#/registry/token?version=3")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Engine, r.Mount, r.Path, r.Field, r.Version)

	_, err = vaultsrc.ParseRef("vault:secret/ci/npm#token?version=three")
	fmt.Println(err)
	// Output:
	// kv2 secret ci/npm.json /registry/token 3
	// secret reference "vault:secret/ci/npm#token?version=three", column 35: version "three": want a positive integer
	//   vault:secret/ci/npm#token?version=three
	//                                     ^
}

// A build with a GitHub Actions ID token: log in, serve secrets lazily over the BuildKit
// session, then wipe the values and revoke the token whatever happened.
func Example() {
	ctx := context.Background()
	client, err := vaultsrc.NewClient(vaultsrc.WithAddress("https://vault.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	src, err := ciauth.GitHubActions("https://vault.example.com")
	if err != nil {
		log.Fatal(err)
	}
	method, err := vaultsrc.NewJWTAuth("safebuild-octo-org-octo-repo-main", src)
	if err != nil {
		log.Fatal(err)
	}
	sess, err := vaultsrc.Login(ctx, client, method)
	if err != nil {
		log.Fatal(err)
	}
	defer sess.Close() // revoke-self on a fresh context

	npm, _ := vaultsrc.ParseRef("vault:secret/ci/npm#token")
	store, err := vaultsrc.NewStore(sess.Fetcher(), map[string]vaultsrc.Ref{"npm_token": npm})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // zeroes the cached values

	attachable := secretsprovider.NewSecretProvider(store) // append to client.SolveOpt.Session
	_ = attachable
	// ... solve ...
	for _, s := range store.Served() {
		fmt.Printf("%s served at KV version %d\n", s.ID, s.Version)
	}
	_ = store.Canaries() // hand to the scanner: policy.WithCanaries(policy.Canary(c), ...)
}
