package policy

// imageAllowlist: which of gitleaks' global allowlist paths hold inside images.
//
// gitleaks' global path allowlist was made for source repositories: a dependency tree checked
// in (node_modules, vendor/, a virtualenv, site-packages) is third-party code nobody in the
// repository wrote. Inside an image the same directories hold the application itself and its
// private packages (pip install . puts the service into site-packages; npm ci puts
// @company/config into node_modules), so skipping them hides exactly what the image gate is
// for. The paths in sourceTreeOnlyPaths therefore hold for files of a source tree (Origin.Kind
// "file": `safebuild scan DIR`) and not for image content (layers, configs, build steps); every
// other global path holds everywhere: content types (images, fonts, office documents,
// binaries), the scanner's own config (gitleaks.toml), generated files that only ever hold
// hashes or fixed code (go.sum, gradlew/mvnw, verification-metadata.xml). The choice was made by measurement on real image content (see
// policy/README.md, "Path allowlists inside images"): what each entry hides, and what scanning it
// costs. Third-party noise in those trees is kept down by rule precision, not by not looking.
//
// The entries are gitleaks' expressions, verbatim: a user's config that extends the defaults, or
// copies them, gets the same treatment; a user's own paths hold everywhere.
var sourceTreeOnlyPaths = map[string]bool{
	// Dependency trees: the application and its private packages live there in an image.
	`(?:^|/)node_modules(?:/.*)?$`:     true,
	`(?:^|/)bower_components(?:/.*)?$`: true,
	`(?:^|/)vendor/(?:github\.com|golang\.org/x|google\.golang\.org|gopkg\.in|istio\.io|k8s\.io|sigs\.k8s\.io)(?:/.*)?$`: true,
	`(?:^|/)vendor/modules\.txt$`:                                                                      true,
	`(?:^|/)vendor/(?:bundle|ruby)(?:/.*?)?$`:                                                          true,
	`(?i)(?:^|/)(?:v?env|virtualenv)/lib(?:64)?(?:/.*)?$`:                                              true,
	`(?i)(?:^|/)(?:lib(?:64)?/python[23](?:\.\d{1,2})+|python/[23](?:\.\d{1,2})+/lib(?:64)?)(?:/.*)?$`: true,
	`(?i)(?:^|/)[a-z0-9_.]+-[0-9.]+\.dist-info(?:/.+)?$`:                                               true,
	// Lock files: resolved URLs carry registry credentials (https://user:token@npm.corp/…,
	// Pipfile.lock's sources); measured, they cost nothing and found nothing else.
	`(?:^|/)(?:deno\.lock|npm-shrinkwrap\.json|package-lock\.json|pnpm-lock\.yaml|yarn\.lock)$`: true,
	`(?:^|/)(?:Pipfile|poetry)\.lock$`: true,
	`(?:^|/)gradle\.lockfile$`:         true,
	// "Minified libraries" by name: the pattern also takes an application's own
	// bootstrap-config.js or angular.settings.js.
	`(?:^|/)(?:angular|bootstrap|jquery(?:-?ui)?|plotly|swagger-?ui)[a-zA-Z0-9.-]*(?:\.min)?\.js(?:\.map)?$`: true,
}

// sourceTreeOnly reports whether a global allowlist path holds only for a source tree's files.
func sourceTreeOnly(expr string) bool { return sourceTreeOnlyPaths[expr] }
