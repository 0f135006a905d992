#!/usr/bin/env bash
# bench/run.sh — rerunnable speed and memory benchmark of homelabgen (release build).
#
#   make bench        (or: bash bench/run.sh)
#
# Measures wall time and peak memory (GNU time) of:
#   - `check` and `render` of the example (tests/specs/example.yaml, not your spec);
#   - `render` of a large generated spec (40 environments x 12 VMs = 480 VMs);
#   - `check` of the hostile fixtures (alias bomb, deep nesting), which must be refused fast.
# Each case runs 5 times; the median time and the peak memory are compared with the
# targets below. It is not part of `make test`: timings belong to a quiet machine.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
command -v /usr/bin/time >/dev/null || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 2; }
cargo build --quiet --release --locked
bin=$root/target/release/homelabgen
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work/large.yaml" <<'PY'
import sys
key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA bench@lab"
out = ["site:", "  endpoint: https://pve.example.org:8006", "  node: pve", "  ssh_host: pve.example.org",
       "images:", "  - name: alma9-k3s", "    k3s_version: v1.36.3+k3s1", "    release: 1", "environments:"]
for e in range(40):
    out += [f"  - name: env-{e}", "    network:", f"      cidr: 10.{e}.0.0/24", f"      gateway: 10.{e}.0.1",
            f"      nameservers: [10.{e}.0.1]", "    ssh_keys:", f"      - {key}", "    vms:"]
    for v in range(12):
        out += [f"      - name: e{e}-vm-{v}", "        image: alma9-k3s", "        cores: 4", "        memory: 8GiB",
                "        disk: 64GiB", f"        ip: 10.{e}.0.{10 + v}"]
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY

# name  target_ms  target_mib  expected_exit  command...
cases=(
  "check-example|200|32|0|$bin check --spec tests/specs/example.yaml"
  "render-example|300|48|0|$bin render --quiet --spec tests/specs/example.yaml --out $work/out-example"
  "render-480-vms|2000|128|0|$bin render --spec $work/large.yaml --out $work/out-large"
  "refuse-alias-bomb|500|64|2|$bin check --spec crates/homelabgen-spec/tests/fixtures/invalid/alias-bomb.yaml"
  "refuse-deep-nesting|200|32|2|$bin check --spec crates/homelabgen-spec/tests/fixtures/invalid/deep-nesting.yaml"
)
failed=0
printf '%-22s %10s %10s %10s %10s  %s\n' case median_ms target_ms peak_mib target_mib verdict
for case in "${cases[@]}"; do
  IFS='|' read -r name target_ms target_mib want_exit cmd <<<"$case"
  times=() peak=0
  for _ in 1 2 3 4 5; do
    rm -rf "$work/out-example" "$work/out-large"
    set +e
    # shellcheck disable=SC2086 # cmd is a word list on purpose
    /usr/bin/time -f '%e %M' -o "$work/t" $cmd >/dev/null 2>&1
    code=$?
    set -e
    [ "$code" = "$want_exit" ] || { echo "bench: $name exited $code, expected $want_exit" >&2; exit 2; }
    read -r secs kib < <(tail -n 1 "$work/t")
    times+=("$(awk -v s="$secs" 'BEGIN{printf "%d", s*1000}')")
    [ "$kib" -gt "$peak" ] && peak=$kib
  done
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
  peak_mib=$((peak / 1024))
  verdict=ok
  if [ "$median" -gt "$target_ms" ] || [ "$peak_mib" -gt "$target_mib" ]; then verdict=OVER; failed=$((failed + 1)); fi
  printf '%-22s %10s %10s %10s %10s  %s\n' "$name" "$median" "$target_ms" "$peak_mib" "$target_mib" "$verdict"
done
[ "$failed" -eq 0 ] || { echo "bench: $failed case(s) over target" >&2; exit 1; }
