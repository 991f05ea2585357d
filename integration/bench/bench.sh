#!/usr/bin/env bash
# Compares safebuild's secret scan with gitleaks' (its release regex engine, go-re2) on one
# corpus, by default Go's own source tree: MB/s of each, the ratio, peak RSS, and the difference
# between the two finding sets (rule + file + line). See README.md.
#
#   integration/bench/bench.sh [CORPUS] [RUNS]
#
# SAME_RE2=1 also measures a gitleaks built with the go-re2 version safebuild uses (built once in
# a scratch module, cached): the engine against the engine, regex library aside.
#
# Both tools read the same bytes: safebuild runs with --max-archive-depth 0, since `gitleaks dir`
# opens no archive by default (and then only by name). ARCHIVES=1 measures each with archives
# opened instead: safebuild's defaults (by content, 3 deep) against gitleaks
# --max-archive-depth 3. BASELINE_BIN=path also measures another safebuild binary (an earlier
# build) in the same run, with the same flags.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
corpus=${1:-$(go env GOROOT)/src}
runs=${2:-3}
gitleaks_version=v8.30.1
cache=${SAFEBUILD_CACHE:-$HOME/.cache/safebuild}
gl_dir=$cache/gitleaks-$gitleaks_version
gitleaks=$gl_dir/gitleaks
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ ! -x /usr/bin/time ]]; then
	echo "installing GNU time (peak RSS)" >&2
	apt-get install -y time >/dev/null || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
fi
if [[ ! -x $gitleaks ]]; then
	echo "installing gitleaks $gitleaks_version (-tags gore2regex) into $gl_dir" >&2
	mkdir -p "$gl_dir"
	GOBIN=$gl_dir go install -tags gore2regex "github.com/zricethezav/gitleaks/v8@$gitleaks_version"
fi
re2_version=$(cd "$repo" && go list -m -f '{{.Version}}' github.com/wasilibs/go-re2)
gitleaks_re2=$cache/gitleaks-$gitleaks_version-go-re2-$re2_version/gitleaks
if [[ ${SAME_RE2:-} == 1 && ! -x $gitleaks_re2 ]]; then
	echo "building gitleaks $gitleaks_version with go-re2 $re2_version into $(dirname "$gitleaks_re2")" >&2
	scratch=$(mktemp -d)
	(cd "$scratch" && go mod init gitleaks-re2 >/dev/null 2>&1 &&
		go get "github.com/zricethezav/gitleaks/v8@$gitleaks_version" "github.com/wasilibs/go-re2@$re2_version" >/dev/null 2>&1 &&
		go build -tags gore2regex -o "$gitleaks_re2" github.com/zricethezav/gitleaks/v8)
	rm -rf "$scratch"
fi
echo "building safebuild" >&2
(cd "$repo" && go build -o "$work/safebuild" ./cmd/safebuild)

bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
files=$(find "$corpus" -type f | wc -l)
echo "corpus: $corpus ($files files, $((bytes / 1000000)) MB); $runs runs each, alternating; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"

# measure NAME CMD...: runs CMD under /usr/bin/time -v and appends "seconds rss_kb" to
# $work/runs.NAME.
measure() {
	local name=$1
	shift
	/usr/bin/time -v "$@" >/dev/null 2>"$work/time.$name" || true
	local wall rss
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$work/time.$name")
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.$name")
	echo "$wall $rss" >>"$work/runs.$name"
}
sb_flags=(--max-archive-depth 0)
gl_flags=()
if [[ ${ARCHIVES:-} == 1 ]]; then
	sb_flags=()
	gl_flags=(--max-archive-depth 3)
fi
for ((i = 1; i <= runs; i++)); do
	measure gitleaks "$gitleaks" dir --no-banner --redact --exit-code 0 "${gl_flags[@]}" -f json -r "$work/gitleaks.json" "$corpus"
	measure safebuild "$work/safebuild" scan "${sb_flags[@]}" --format json --output "$work/safebuild.json" "$corpus"
	if [[ -n ${BASELINE_BIN:-} ]]; then
		measure baseline "$BASELINE_BIN" scan "${sb_flags[@]}" --format json --output "$work/baseline.json" "$corpus"
	fi
	if [[ ${SAME_RE2:-} == 1 ]]; then
		measure gitleaks-re2 "$gitleaks_re2" dir --no-banner --redact --exit-code 0 -f json -r "$work/gitleaks-re2.json" "$corpus"
	fi
done

# report NAME: median wall time, MB/s over the corpus bytes, max peak RSS.
report() {
	sort -n "$work/runs.$1" | awk -v name="$1" -v bytes="$bytes" '
		{ w[NR] = $1; if ($2 > rss) rss = $2 }
		END { m = w[int((NR + 1) / 2)]; printf "%-10s median %6.2f s  %7.1f MB/s  peak RSS %6.1f MiB\n", name, m, bytes / 1e6 / m, rss / 1024 }'
}
report gitleaks
report safebuild
gl=$(sort -n "$work/runs.gitleaks" | awk '{w[NR]=$1} END {print w[int((NR+1)/2)]}')
sb=$(sort -n "$work/runs.safebuild" | awk '{w[NR]=$1} END {print w[int((NR+1)/2)]}')
awk -v g="$gl" -v s="$sb" 'BEGIN { printf "ratio: safebuild is %.1fx gitleaks (wall time, same corpus, same machine, same run)\n", g / s }'
if [[ -n ${BASELINE_BIN:-} ]]; then
	report baseline
	bl=$(sort -n "$work/runs.baseline" | awk '{w[NR]=$1} END {print w[int((NR+1)/2)]}')
	awk -v b="$bl" -v s="$sb" 'BEGIN { printf "ratio: safebuild takes %.2fx the time of the baseline binary\n", s / b }'
fi
if [[ ${SAME_RE2:-} == 1 ]]; then
	report gitleaks-re2
	glr=$(sort -n "$work/runs.gitleaks-re2" | awk '{w[NR]=$1} END {print w[int((NR+1)/2)]}')
	awk -v g="$glr" -v s="$sb" -v v="$re2_version" 'BEGIN { printf "ratio: safebuild is %.1fx gitleaks built with go-re2 %s (same regex library)\n", g / s, v }'
fi

build_rules=$(cd "$repo" && go run ./integration/bench/listrules)
go run "$here/compare.go" -gitleaks "$work/gitleaks.json" -safebuild "$work/safebuild.json" -build-rules "$build_rules"
