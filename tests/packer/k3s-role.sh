#!/usr/bin/env bash
# Behaviour of scripts/k3s-role.sh (a clone's first boot) against a fake root: systemctl,
# firewall-cmd, firewall-offline-cmd, ip, hostname and keepalived are stubs. It must enable and
# start the unit of the role the vendor data names (none: server), give a server the
# image's server settings, its ports and, with k3s-vip.env, a keepalived.conf; make the
# cluster settings root-only; and refuse, before enabling anything, a bad role, an agent
# without server URL or token, and a bad k3s-vip.env.
# The real keepalived checks the configuration in the boot test (tests/boot).
#
#   tests/packer/k3s-role.sh GENERATED/packer/IMAGE
# Stub bodies are shell code run later: single quotes are meant.
# shellcheck disable=SC2016
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/packer/lib.sh
. "$here/lib.sh"
image_dir=$1
require_image_dir "$image_dir"
script="$image_dir/scripts/k3s-role.sh"
sandbox_init
root="$SANDBOX/root"

stub systemctl
# firewall-cmd --state: running unless FIREWALLD_DOWN=1.
stub firewall-cmd '[ "$1" != --state ] || [ "${FIREWALLD_DOWN:-0}" != 1 ]'
stub firewall-offline-cmd
# ip -4 route show default: the route a static cloud-init address gives (NO_ROUTE=1: none).
stub ip '[ "${NO_ROUTE:-0}" = 1 ] || echo "default via 10.0.0.1 dev ens18 proto static metric 100"'
# hostname -f: the FQDN cloud-init set (FQDN= overrides; a name without a dot is no FQDN).
stub hostname 'echo "${FQDN-k3s-01.lab.example}"'
# keepalived --config-test --use-file=F: accepts unless KEEPALIVED_REJECTS=1; records F.
stub keepalived '
for a in "$@"; do case "$a" in --use-file=*) cp "${a#--use-file=}" "$SANDBOX/tested.conf" ;; esac; done
if [ "${KEEPALIVED_REJECTS:-0}" = 1 ]; then echo "(line 9) Unknown keyword" >&2; exit 1; fi'

cluster="etc/rancher/k3s/config.yaml.d/50-homelabgen-cluster.yaml"
fresh() { # fresh [ROLE]: the sealed image's files, plus a role file when given
  rm -rf "$root" "$SANDBOX/tested.conf"
  mkdir -p "$root/etc/homelabgen"
  printf 'write-kubeconfig-mode: "0600"\ndisable:\n  - traefik\n' >"$root/etc/homelabgen/k3s-server.yaml"
  if [ -n "${1:-}" ]; then printf '%s\n' "$1" >"$root/etc/homelabgen/k3s-role"; fi
  : >"$CALLS"
}
settings() { # settings TEXT: the VM's cluster settings, as cloud-init writes them (0600)
  mkdir -p "$(dirname "$root/$cluster")"
  printf '%s\n' "$1" >"$root/$cluster"
}
vip() { # vip LINES...: /etc/homelabgen/k3s-vip.env
  printf '%s\n' "$@" >"$root/etc/homelabgen/k3s-vip.env"
}
good_vip=(HOMELAB_VIP_ADDRESS=10.0.0.50 HOMELAB_VIP_PREFIX=24 HOMELAB_VRRP_ROUTER_ID=42 HOMELAB_VRRP_PRIORITY=149)
role() { # role [ENV=VALUE...]
  run_script "$SANDBOX/out" "$script" HOMELAB_ROOT="$root" "$@"
}
mode() { stat -c %a "$1"; }
enabled_nothing() {
  assert_file_lacks "$CALLS" "systemctl enable" "after a refusal"
  assert_file_lacks "$CALLS" "systemctl start" "after a refusal"
  [ ! -e "$root/var/lib/homelab/k3s-role.done" ] || fail "stamp written after a refusal: the next boot would not try again"
}

# 1. No role file: a single-node server, as before clusters.
fresh
role || fail "k3s-role.sh failed:$(printf '\n'; cat "$SANDBOX/out")"
dropin="$root/etc/rancher/k3s/config.yaml.d/10-homelabgen-server.yaml"
cmp -s "$dropin" "$root/etc/homelabgen/k3s-server.yaml" || fail "the server settings were not copied into config.yaml.d"
assert_eq "$(mode "$dropin")" 600 "mode of the server settings"
for port in 6443/tcp 2379-2380/tcp; do
  assert_file_has "$CALLS" "firewall-cmd --permanent --add-port=$port"
  assert_file_has "$CALLS" "firewall-cmd --add-port=$port"
done
assert_eq "$(grep '^systemctl' "$CALLS")" "systemctl enable --no-reload k3s.service
systemctl start --no-block k3s.service" "systemctl calls"
assert_file_lacks "$CALLS" "keepalived" "a server without an API address"
assert_file_lacks "$CALLS" "vrrp" "a server without an API address"
names="$root/etc/rancher/k3s/config.yaml.d/60-homelabgen-names.yaml"
assert_file_has "$names" 'tls-san+:'
assert_file_has "$names" '  - "k3s-01.lab.example"'
assert_eq "$(mode "$names")" 600 "mode of the DNS-name drop-in"
[ -f "$root/var/lib/homelab/k3s-role.done" ] || fail "no stamp"
pass "no role file: k3s.service enabled and started, server settings in config.yaml.d (0600), the FQDN appended to tls-san, 6443 and 2379-2380 opened, no keepalived"

# 2. A server of a cluster: settings made root-only whatever cloud-init wrote.
fresh server
settings $'server: https://10.0.0.50:6443\ntoken: "t0ken"\ntls-san:\n  - 10.0.0.50'
chmod 0644 "$root/$cluster"
role || fail "k3s-role.sh failed for a joining server:$(printf '\n'; cat "$SANDBOX/out")"
assert_eq "$(mode "$root/$cluster")" 600 "mode of the cluster settings"
assert_file_has "$CALLS" "systemctl enable --no-reload k3s.service"
assert_file_lacks "$SANDBOX/out" "t0ken" "output (the token is never printed)"
pass "server: the cluster settings (with the token) made 0600, k3s.service started; the token never printed"

# 3. An agent: its own unit, none of the server settings, no server ports.
fresh agent
settings $'server: https://10.0.0.50:6443\ntoken: "t0ken"\nnode-ip: 10.0.0.21'
vip "${good_vip[@]}"
role || fail "k3s-role.sh failed for an agent:$(printf '\n'; cat "$SANDBOX/out")"
assert_eq "$(grep '^systemctl' "$CALLS")" "systemctl enable --no-reload k3s-agent.service
systemctl start --no-block k3s-agent.service" "systemctl calls of an agent"
[ ! -e "$dropin" ] || fail "an agent got the server settings (k3s agent refuses their keys)"
assert_file_lacks "$CALLS" "firewall" "an agent's firewall (it serves neither API nor etcd)"
assert_file_lacks "$CALLS" "keepalived" "an agent with a k3s-vip.env"
assert_file_has "$SANDBOX/out" "ignoring /etc/homelabgen/k3s-vip.env"
[ ! -e "$root/etc/keepalived/keepalived.conf" ] || fail "an agent got a keepalived.conf"
[ ! -e "$root/etc/rancher/k3s/config.yaml.d/60-homelabgen-names.yaml" ] || fail "an agent got tls-san (k3s agent refuses it)"
pass "agent: k3s-agent.service started, no server settings, no tls-san, no server ports, k3s-vip.env ignored"

# 4. A server with a virtual API address: keepalived.conf checked, then keepalived started.
fresh server
settings $'cluster-init: true\ntoken: "t0ken"'
vip "# written by cloud-init" "${good_vip[@]}"
role || fail "k3s-role.sh failed with a k3s-vip.env:$(printf '\n'; cat "$SANDBOX/out")"
conf="$root/etc/keepalived/keepalived.conf"
cmp -s "$conf" "$SANDBOX/tested.conf" || fail "keepalived.conf is not the file keepalived --config-test checked"
assert_file_has "$conf" "  interface ens18"
assert_file_has "$conf" "  virtual_router_id 42"
assert_file_has "$conf" "  priority 149"
assert_file_has "$conf" "    10.0.0.50/24 dev ens18"
assert_file_has "$conf" 'script "/usr/libexec/keepalived/homelab-k3s-api-check"'
check="$root/usr/libexec/keepalived/homelab-k3s-api-check"
[ -x "$check" ] || fail "no executable health check $check"
assert_file_has "$check" "https://127.0.0.1:6443/ping"
sh -n "$check" || fail "the health check is not valid sh"
assert_file_has "$conf" "  init_fail"
assert_file_has "$CALLS" "firewall-cmd --permanent --add-protocol=vrrp"
assert_file_has "$CALLS" "firewall-cmd --add-protocol=vrrp"
assert_eq "$(grep '^systemctl' "$CALLS")" "systemctl enable --no-reload keepalived.service
systemctl start --no-block keepalived.service
systemctl enable --no-reload k3s.service
systemctl start --no-block k3s.service" "systemctl calls with an API address"
pass "server with k3s-vip.env: keepalived.conf (interface of the default route, router id, priority, address, API health check in /usr/libexec/keepalived) checked, VRRP allowed, keepalived started"

# 5. Refusals: nothing enabled, no stamp (the next boot tries again), a message that says what.
refuses() { # refuses "message" SETUP [ENV=VALUE...]
  local message=$1 setup=$2
  shift 2
  fresh
  eval "$setup"
  if role "$@"; then fail "k3s-role.sh succeeded although: $setup"; fi
  assert_file_has "$SANDBOX/out" "$message" "after: $setup"
  enabled_nothing
  [ ! -e "$root/etc/keepalived/keepalived.conf" ] || fail "a keepalived.conf was left after: $setup"
  pass "refuses: $setup ($message)"
}
refuses "must be 'server' or 'agent'" 'echo master >"$root/etc/homelabgen/k3s-role"'
refuses "must be 'server' or 'agent'" ': >"$root/etc/homelabgen/k3s-role"'
refuses "an agent needs the server URL" 'echo agent >"$root/etc/homelabgen/k3s-role"; settings "token: \"t\""'
refuses "an agent needs the server URL" 'echo agent >"$root/etc/homelabgen/k3s-role"'
refuses "an agent needs the cluster token" 'echo agent >"$root/etc/homelabgen/k3s-role"; settings "server: https://10.0.0.50:6443"'
refuses "k3s-server.yaml is missing" 'rm "$root/etc/homelabgen/k3s-server.yaml"'
refuses "HOMELAB_VIP_ADDRESS '10.0.0.256' is not an IPv4 address" 'vip HOMELAB_VIP_ADDRESS=10.0.0.256 HOMELAB_VIP_PREFIX=24 HOMELAB_VRRP_ROUTER_ID=42 HOMELAB_VRRP_PRIORITY=150'
refuses "HOMELAB_VIP_ADDRESS '' is not an IPv4 address" 'vip HOMELAB_VIP_PREFIX=24 HOMELAB_VRRP_ROUTER_ID=42 HOMELAB_VRRP_PRIORITY=150'
refuses "HOMELAB_VIP_PREFIX '33' is not 1 to 32" 'vip HOMELAB_VIP_ADDRESS=10.0.0.50 HOMELAB_VIP_PREFIX=33 HOMELAB_VRRP_ROUTER_ID=42 HOMELAB_VRRP_PRIORITY=150'
refuses "HOMELAB_VRRP_ROUTER_ID '0' is not 1 to 255" 'vip HOMELAB_VIP_ADDRESS=10.0.0.50 HOMELAB_VIP_PREFIX=24 HOMELAB_VRRP_ROUTER_ID=0 HOMELAB_VRRP_PRIORITY=150'
refuses "HOMELAB_VRRP_PRIORITY '255' is not 1 to 254" 'vip HOMELAB_VIP_ADDRESS=10.0.0.50 HOMELAB_VIP_PREFIX=24 HOMELAB_VRRP_ROUTER_ID=42 HOMELAB_VRRP_PRIORITY=255'
refuses "HOMELAB_VRRP_PRIORITY '1?0' is not 1 to 254" 'vip HOMELAB_VIP_ADDRESS=10.0.0.50 HOMELAB_VIP_PREFIX=24 HOMELAB_VRRP_ROUTER_ID=42 "HOMELAB_VRRP_PRIORITY=1\$0"'
refuses "unknown line 'HOMELAB_VIP_IFACE'" 'vip "${good_vip[@]}" HOMELAB_VIP_IFACE=eth9'
refuses "no default route" 'vip "${good_vip[@]}"' NO_ROUTE=1
refuses "keepalived --config-test rejects" 'vip "${good_vip[@]}"' KEEPALIVED_REJECTS=1

# 6. firewalld not running (an offline root): the permanent configuration is edited.
fresh server
role FIREWALLD_DOWN=1 || fail "k3s-role.sh failed with firewalld down:$(printf '\n'; cat "$SANDBOX/out")"
assert_file_has "$CALLS" "firewall-offline-cmd --add-port=6443/tcp"
assert_file_has "$CALLS" "firewall-offline-cmd --add-port=2379-2380/tcp"
pass "firewalld not running: the server ports go into the permanent configuration (firewall-offline-cmd)"

# 7. No search domain (hostname -f gives the bare host name) or a name that is not a DNS
#    name: no tls-san drop-in, nothing else changes.
for fqdn in k3s-01 'bad name;rm' ''; do
  fresh server
  role FQDN="$fqdn" || fail "k3s-role.sh failed with FQDN '$fqdn':$(printf '\n'; cat "$SANDBOX/out")"
  [ ! -e "$root/etc/rancher/k3s/config.yaml.d/60-homelabgen-names.yaml" ] || fail "a tls-san drop-in for FQDN '$fqdn'"
  assert_file_has "$CALLS" "systemctl start --no-block k3s.service"
done
pass "no FQDN (bare host name, not a DNS name, empty): no tls-san drop-in, the server still starts"

echo "k3s-role: $TESTS cases passed"
