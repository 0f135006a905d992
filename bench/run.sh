#!/usr/bin/env bash
# bench/run.sh — rerunnable speed and memory benchmark of homelabgen (release build).
#
#   make bench        (or: bash bench/run.sh; BENCH_RUNS=N runs per case, default 11)
#
# Every case is measured against a baseline doing the same file-system work in the same
# run, so the verdict does not depend on how fast this machine or its disk is:
#   - render into an empty directory  vs  `cp -r` of the same rendered tree;
#   - diff of an up-to-date tree       vs  `diff -r` of the tree and a copy of it;
#   - for the 1000-VM spec, also absolute targets: wall ms and CPU ms (user + system).
# Also `check` of the default spec and of the hostile fixtures (alias bomb, deep
# nesting), which must be refused fast.
#
# The runs of a case and of its baseline alternate (base, case, base, case, ...), so
# both see the same load on a shared machine; the median of each is used. Render cases
# start each run (and its baseline's) after an untimed `sync`, so that render's
# `syncfs` pays for its own writes only, not for the copy the baseline left dirty. The targets
# are set in wall time, which is noisy on a busy machine (other processes, and `syncfs`
# also flushes their writes), so the CPU time (user + system, from wait4's rusage) of
# both is printed too, with its ratio: the steadier figure to compare two builds by.
# It is not part of `make test`: timings belong to a quiet machine.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
command -v python3 >/dev/null || { echo "bench: needs python3" >&2; exit 2; }
cargo build --quiet --release --locked
bin=$root/target/release/homelabgen
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The render cache of these runs is their own (and goes with them).
export HOMELABGEN_CACHE_DIR=$work/render-cache
unset HOMELABGEN_CACHE
runs=${BENCH_RUNS:-11}
echo "bench: output on $(df -T "$work" | awk 'NR==2{print $2}'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); baselines run on the same file system"

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

# pair BASE_PREPARE BASE_COMMAND... -- EXPECTED_EXIT PREPARE COMMAND...
# Runs the baseline and the case alternately, $runs times each; PREPARE snippets run
# before each run, untimed (`:` for none); `{n}` in a command is the run's number. Prints the medians of the baseline's wall
# and CPU ms, of the case's wall and CPU ms, and the case's peak MiB. A baseline of
# `- -` is no baseline (its figures print as `-`). CPU is user + system time from
# wait4's rusage (microsecond resolution).
pair() {
  python3 - "$runs" "$@" <<'PY'
import os, subprocess, sys, time

args = sys.argv[1:]
runs = int(args.pop(0))
split = args.index("--")
base_prepare, base_cmd = args[0], args[1:split]
want, prepare, cmd = int(args[split + 1]), args[split + 2], args[split + 3:]


def once(prepare, cmd, want, n):
    cmd = [arg.replace("{n}", str(n)) for arg in cmd]
    if prepare != ":":
        subprocess.run(prepare, shell=True, check=True)
    start = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = (time.perf_counter() - start) * 1000
    code = os.waitstatus_to_exitcode(status)
    if code != want:
        sys.exit(f"bench: `{' '.join(cmd)}` exited {code}, expected {want}")
    return wall, (usage.ru_utime + usage.ru_stime) * 1000, usage.ru_maxrss


def median(xs):
    return f"{sorted(xs)[len(xs) // 2]:.1f}" if xs else "-"


base, case, peak = [], [], 0
for n in range(runs):
    if base_cmd != ["-"]:
        base.append(once(base_prepare, base_cmd, 0, n))
    case.append(once(prepare, cmd, want, n))
    peak = max(peak, case[-1][2])
print(median([b[0] for b in base]), median([b[1] for b in base]),
      median([c[0] for c in case]), median([c[1] for c in case]), peak // 1024)
PY
}

failed=0
# report NAME WALL CPU MIB BASE_WALL BASE_CPU MAX_RATIO MAX_WALL MAX_CPU MAX_MIB (`-`: none)
report() {
  local name=$1 wall=$2 cpu=$3 mib=$4 base=$5 base_cpu=$6 max_ratio=$7 max_wall=$8 max_cpu=$9 max_mib=${10}
  local ratio=- cpu_ratio=- verdict=ok
  if [ "$base" != - ]; then
    ratio=$(awk -v a="$wall" -v b="$base" 'BEGIN{printf "%.2f", a/(b>0?b:1)}')
    cpu_ratio=$(awk -v a="$cpu" -v b="$base_cpu" 'BEGIN{printf "%.2f", a/(b>0?b:1)}')
    if [ "$max_ratio" != - ] && awk -v r="$ratio" -v m="$max_ratio" 'BEGIN{exit !(r>m)}'; then
      verdict=OVER
    fi
  fi
  over() { [ "$2" != - ] && awk -v a="$1" -v b="$2" 'BEGIN{exit !(a>b)}'; }
  if over "$wall" "$max_wall" || over "$cpu" "$max_cpu" || over "$mib" "$max_mib"; then verdict=OVER; fi
  [ "$verdict" = ok ] || failed=$((failed + 1))
  printf '%-20s %8s %8s %8s %8s %6s %7s %9s %8s %8s  %s\n' "$name" "$wall" "$cpu" "$base" "$base_cpu" \
    "$ratio" "$cpu_ratio" "$max_ratio" "$max_wall" "$max_cpu" "$verdict"
}

echo "bench: $runs runs per case (medians); base = the baseline, run alternately with the case"
printf '%-20s %8s %8s %8s %8s %6s %7s %9s %8s %8s  %s\n' case wall_ms cpu_ms base_ms base_cpu \
  ratio cpu_rat max_ratio max_wall max_cpu verdict
for spec in default large; do
  if [ "$spec" = default ]; then file=tests/specs/k3s-single.yaml; else file=$work/large.yaml; fi
  ref=$work/ref-$spec
  "$bin" render --spec "$file" --out "$ref" >/dev/null 2>&1
  # render into an empty directory vs cp -r of the same tree. Each run gets a new
  # directory: deleting the last run's tree first would slow the next one's file
  # creation (ext4 skips recently deleted inodes when it allocates new ones). Each run
  # starts after an untimed `sync`: render's syncfs flushes every dirty page of the
  # file system, so without it render would also pay for writing back the previous
  # `cp -r` (the baseline leaves its copy dirty in the page cache).
  read -r base base_cpu wall cpu mib < <(pair sync cp -r "$ref" "$work/cp-$spec-{n}" -- \
    0 sync "$bin" render --spec "$file" --out "$work/out-$spec-{n}")
  if [ "$spec" = default ]; then
    report render-default "$wall" "$cpu" "$mib" "$base" "$base_cpu" 3 - - 64
  else
    report render-1000-vms "$wall" "$cpu" "$mib" "$base" "$base_cpu" - 100 50 128
  fi
  # no-change diff vs diff -r of the tree and a copy: as it runs after a render (the
  # render cache knows this spec's tree, so diff checks the disk against it), and with
  # --no-cache (as after a pull of a tree rendered elsewhere, or a new homelabgen
  # build: render and compare in full), reported without a target.
  read -r base base_cpu wall cpu mib < <(pair : diff -r "$ref" "$work/cp-$spec-0" -- \
    0 : "$bin" diff --spec "$file" --out "$ref")
  report "diff-$spec" "$wall" "$cpu" "$mib" "$base" "$base_cpu" 2 - - 128
  read -r base base_cpu wall cpu mib < <(pair : diff -r "$ref" "$work/cp-$spec-0" -- \
    0 : "$bin" diff --no-cache --spec "$file" --out "$ref")
  report "diff-$spec-nocache" "$wall" "$cpu" "$mib" "$base" "$base_cpu" - - - 128
done
read -r _ _ wall cpu mib < <(pair - - -- 0 : "$bin" check --spec tests/specs/k3s-single.yaml)
report check-default "$wall" "$cpu" "$mib" - - - 200 - 32
read -r _ _ wall cpu mib < <(pair - - -- 2 : "$bin" check --spec crates/homelabgen-spec/tests/fixtures/invalid/alias-bomb.yaml)
report refuse-alias-bomb "$wall" "$cpu" "$mib" - - - 500 - 64
read -r _ _ wall cpu mib < <(pair - - -- 2 : "$bin" check --spec crates/homelabgen-spec/tests/fixtures/invalid/deep-nesting.yaml)
report refuse-deep-nesting "$wall" "$cpu" "$mib" - - - 200 - 32
[ "$failed" -eq 0 ] || { echo "bench: $failed case(s) over target" >&2; exit 1; }
