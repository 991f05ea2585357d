// Command listrules prints the IDs of safebuild's build rules, comma-separated: the rules
// gitleaks does not have, whose findings bench.sh lists apart.
package main

import (
	"fmt"
	"strings"

	"github.com/safebuild/safebuild/policy/config"
)

func main() {
	var ids []string
	for _, r := range config.BuildRules() {
		ids = append(ids, r.ID)
	}
	fmt.Println(strings.Join(ids, ","))
}
