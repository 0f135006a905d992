#!/usr/bin/env bash
# bench/run.sh — rerunnable speed and memory benchmark of homelabgen (release build).
#
#   make bench        (or: bash bench/run.sh)
#
# Every case is measured against a baseline doing the same file-system work in the same
# run, so the verdict does not depend on how fast this machine or its disk is:
#   - render into an empty directory  vs  `cp -r` of the same rendered tree;
#   - diff of an up-to-date tree       vs  `diff -r` of the tree and a copy of it;
#   - for the 1000-VM spec, also absolute targets: wall ms and CPU ms (user + system).
# Also `check` of the default spec and of the hostile fixtures (alias bomb, deep
# nesting), which must be refused fast. Each case runs 7 times; the median is used.
# It is not part of `make test`: timings belong to a quiet machine.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
command -v /usr/bin/time >/dev/null || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 2; }
cargo build --quiet --release --locked
bin=$root/target/release/homelabgen
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
runs=7
echo "bench: output on $(df -T "$work" | awk 'NR==2{print $2}'), $(nproc) CPUs; baselines run on the same file system"

python3 - "$work/large.yaml" <<'PY'
import sys
key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA bench@lab"
out = ["site:", "  endpoint: https://pve.example.org:8006", "  node: pve", "  ssh_host: pve.example.org",
       "images:", "  - name: alma9-k3s", "    k3s_version: v1.36.3+k3s1", "    release: 1", "environments:"]
for e in range(40):
    out += [f"  - name: env-{e}", "    network:", f"      cidr: 10.{e}.0.0/24", f"      gateway: 10.{e}.0.1",
            f"      nameservers: [10.{e}.0.1]", "    ssh_keys:", f"      - {key}", "    vms:"]
    for v in range(25):
        out += [f"      - name: e{e}-vm-{v}", "        image: alma9-k3s", "        cores: 4", "        memory: 8GiB",
                "        disk: 64GiB", f"        ip: 10.{e}.0.{10 + v}"]
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY

# measure EXPECTED_EXIT PREPARE COMMAND...: median wall ms, median CPU ms (user + system,
# from wait4's rusage: microsecond resolution) and peak MiB of COMMAND over $runs runs;
# PREPARE (a shell snippet) runs before each run, untimed.
measure() {
  python3 - "$runs" "$@" <<'PY'
import os, subprocess, sys, time
runs, want, prepare, cmd = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
walls, cpus, peak = [], [], 0
for _ in range(runs):
    subprocess.run(prepare, shell=True, check=True)
    start = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    walls.append((time.perf_counter() - start) * 1000)
    code = os.waitstatus_to_exitcode(status)
    if code != want:
        sys.exit(f"bench: `{' '.join(cmd)}` exited {code}, expected {want}")
    cpus.append((usage.ru_utime + usage.ru_stime) * 1000)
    peak = max(peak, usage.ru_maxrss)
walls.sort(); cpus.sort()
print(f"{walls[runs // 2]:.1f} {cpus[runs // 2]:.1f} {peak // 1024}")
PY
}

failed=0
report() { # name wall cpu mib base_wall max_ratio max_wall max_cpu max_mib
  local name=$1 wall=$2 cpu=$3 mib=$4 base=$5 max_ratio=$6 max_wall=$7 max_cpu=$8 max_mib=$9
  local ratio=- verdict=ok
  if [ "$base" != - ]; then
    ratio=$(awk -v a="$wall" -v b="$base" 'BEGIN{printf "%.2f", a/(b>0?b:1)}')
    awk -v r="$ratio" -v m="$max_ratio" 'BEGIN{exit !(r>m)}' && verdict=OVER
  fi
  over() { [ "$2" != - ] && awk -v a="$1" -v b="$2" 'BEGIN{exit !(a>b)}'; }
  if over "$wall" "$max_wall" || over "$cpu" "$max_cpu" || over "$mib" "$max_mib"; then verdict=OVER; fi
  [ "$verdict" = ok ] || failed=$((failed + 1))
  printf '%-20s %8s %8s %9s %7s %10s %9s %9s  %s\n' "$name" "$wall" "$cpu" "$base" "$ratio" "$max_ratio" "$max_wall" "$max_cpu" "$verdict"
}

printf '%-20s %8s %8s %9s %7s %10s %9s %9s  %s\n' case wall_ms cpu_ms base_ms ratio max_ratio max_wall max_cpu verdict
for spec in default large; do
  if [ "$spec" = default ]; then file=tests/specs/k3s-single.yaml; else file=$work/large.yaml; fi
  ref=$work/ref-$spec
  "$bin" render --spec "$file" --out "$ref" >/dev/null
  # render into an empty directory vs cp -r of the same tree
  read -r base _ _ < <(measure 0 "rm -rf '$work/cp'" cp -r "$ref" "$work/cp")
  read -r wall cpu mib < <(measure 0 "rm -rf '$work/out'" "$bin" render --spec "$file" --out "$work/out")
  if [ "$spec" = default ]; then
    report render-default "$wall" "$cpu" "$mib" "$base" 3 - - 64
  else
    report render-1000-vms "$wall" "$cpu" "$mib" "$base" - 100 50 128
  fi
  # no-change diff vs diff -r of the tree and a copy
  rm -rf "$work/cp" && cp -r "$ref" "$work/cp"
  read -r base _ _ < <(measure 0 : diff -r "$ref" "$work/cp")
  read -r wall cpu mib < <(measure 0 : "$bin" diff --spec "$file" --out "$ref")
  report "diff-$spec" "$wall" "$cpu" "$mib" "$base" 2 - - 128
done
read -r wall cpu mib < <(measure 0 : "$bin" check --spec tests/specs/k3s-single.yaml)
report check-default "$wall" "$cpu" "$mib" - - 200 - 32
read -r wall cpu mib < <(measure 2 : "$bin" check --spec crates/homelabgen-spec/tests/fixtures/invalid/alias-bomb.yaml)
report refuse-alias-bomb "$wall" "$cpu" "$mib" - - 500 - 64
read -r wall cpu mib < <(measure 2 : "$bin" check --spec crates/homelabgen-spec/tests/fixtures/invalid/deep-nesting.yaml)
report refuse-deep-nesting "$wall" "$cpu" "$mib" - - 200 - 32
[ "$failed" -eq 0 ] || { echo "bench: $failed case(s) over target" >&2; exit 1; }
