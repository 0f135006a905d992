# shellcheck shell=bash
# Real-tool checks of generated/tofu. Sourced by preflight.sh; uses step/need from lib.sh.
#
# Everything runs offline: `tofu init` installs bpg/proxmox from the local filesystem
# mirror named by TF_CLI_CONFIG_FILE (tools/install.sh builds it), and the HTTP(S)
# proxy variables point at a closed port, so any attempt to reach a registry fails
# instead of silently succeeding. init runs in a temporary copy of the tree: no
# .terraform/ or lock file is ever left in $GENERATED.
#
# To extend: add a `step` line to checks_tofu (a helper below, or any command).

# The VM resource must carry lifecycle { create_before_destroy = true }: read the
# block structure of main.tf (strings and comments stripped) rather than grep, so a
# setting in another block or a comment does not count.
tofu_check_cbd() {
  awk '
    {
      if (depth == 0 && $0 ~ /^resource "proxmox_virtual_environment_vm" /) { in_vm = 1 }
      line = $0
      gsub(/"([^"\\]|\\.)*"/, "\"\"", line)   # strings: no braces, no keywords
      sub(/#.*/, "", line)                     # comments
      if (in_vm && depth == 1 && line ~ /^[ \t]*lifecycle[ \t]*\{/) { in_lifecycle = 1 }
      if (in_lifecycle && depth == 2 && line ~ /^[ \t]*create_before_destroy[ \t]*=[ \t]*true[ \t]*$/) { found = 1 }
      opens = gsub(/\{/, "{", line); closes = gsub(/\}/, "}", line)
      depth += opens - closes
      if (depth <= 1) { in_lifecycle = 0 }
      if (depth == 0) { in_vm = 0 }
    }
    END {
      if (!found) { print "no lifecycle { create_before_destroy = true } in resource \"proxmox_virtual_environment_vm\" of " FILENAME; exit 1 }
    }
  ' "$1"
}

# The check above must reject the module with the setting turned off, or moved
# into another block.
tofu_check_cbd_can_fail() {
  local tmp rc=0
  tmp=$(mktemp)
  sed 's/create_before_destroy = true/create_before_destroy = false/' "$1" >"$tmp"
  if tofu_check_cbd "$tmp" >/dev/null; then
    echo "tofu_check_cbd accepted create_before_destroy = false"
    rc=1
  fi
  # The setting in the snippet resource instead of the VM does not count either.
  { grep -v 'create_before_destroy' "$1"; printf 'resource "proxmox_virtual_environment_file" "x" {\n  lifecycle {\n    create_before_destroy = true\n  }\n}\n'; } >"$tmp"
  if tofu_check_cbd "$tmp" >/dev/null; then
    echo "tofu_check_cbd accepted create_before_destroy on another resource"
    rc=1
  fi
  rm -f "$tmp"
  return "$rc"
}

# tofu with no way to the network: only the filesystem mirror can provide providers.
tofu_offline() {
  HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 \
    NO_PROXY='' no_proxy='' CHECKPOINT_DISABLE=1 tofu "$@"
}

# init (offline, no backend) and validate one root or child module directory.
tofu_init_validate() {
  local dir=$1
  [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ -f "$TF_CLI_CONFIG_FILE" ] || {
    echo "TF_CLI_CONFIG_FILE is unset or missing (${TF_CLI_CONFIG_FILE:-unset}): source the tools env.sh (make tools)"
    return 1
  }
  tofu_offline -chdir="$dir" init -backend=false -input=false -no-color >"$dir/.init.log" 2>&1 || {
    cat "$dir/.init.log"
    return 1
  }
  tofu_offline -chdir="$dir" validate -no-color
}

tofu_test_dir() {
  tofu_offline -chdir="$1" test -no-color
}

# An environment's tests run with its terraform.tfvars.example as the variable file:
# every value there must have the variable's type (and, being the defaults, pass).
tofu_test_env() {
  tofu_offline -chdir="$1" test -no-color -var-file=terraform.tfvars.example
}

# terraform.tfvars.example is HCL that `tofu fmt` skips (by its name): check a copy.
tofu_fmt_examples() {
  local tree=$1 example copy rc=0
  copy=$(mktemp -d)
  for example in "$tree"/envs/*/terraform.tfvars.example; do
    cp "$example" "$copy/example.tfvars"
    tofu fmt -check -diff -no-color "$copy/example.tfvars" || { echo "not formatted: $example"; rc=1; }
  done
  rm -rf "$copy"
  return "$rc"
}

# Copy a rendered tofu tree (module and environments keep their relative paths).
tofu_work_copy() {
  local from=$1 to=$2
  mkdir -p "$to" && cp -R "$from"/. "$to"/
}

# All checks of one rendered tofu tree: validate and test the module (unless told to
# skip it) and every environment.
tofu_tree_checks() {
  local label=$1 tree=$2 module_tests=$3 env name
  step "$label: module proxmox-vm: init (offline mirror) + validate" tofu_init_validate "$tree/modules/proxmox-vm"
  if [ "$module_tests" = yes ]; then
    step "$label: module proxmox-vm: tofu test (mock provider)" tofu_test_dir "$tree/modules/proxmox-vm"
  fi
  for env in "$tree"/envs/*/; do
    name=$(basename "$env")
    step "$label: env $name: init (offline mirror) + validate" tofu_init_validate "$env"
    step "$label: env $name: tofu test (mock provider, tfvars example)" tofu_test_env "$env"
  done
}

# A mutation must make the module's tests fail, with the assertion meant to catch
# it: proof that they test something. Arguments: the module directory, a file in it,
# a sed expression breaking it, the test file, and the expected failure message.
tofu_tests_catch() {
  local module=$1 file=$2 edit=$3 test_file=$4 message=$5 copy
  copy=$(mktemp -d)
  cp -R "$module"/. "$copy"/
  sed -i -e "$edit" "$copy/$file"
  if cmp -s "$module/$file" "$copy/$file"; then
    echo "the mutation '$edit' changed nothing in $file: fix the check"
    rm -rf "$copy"
    return 1
  fi
  if tofu_offline -chdir="$copy" test -no-color -filter="tests/$test_file" >"$copy/.test.log" 2>&1; then
    echo "tofu test passed although $file was broken with '$edit':"
    diff "$module/$file" "$copy/$file"
    rm -rf "$copy"
    return 1
  fi
  if ! grep -qF -- "$message" "$copy/.test.log"; then
    echo "tofu test failed, but not with '$message':"
    cat "$copy/.test.log"
    rm -rf "$copy"
    return 1
  fi
  rm -rf "$copy"
}

# tofu_env_tests_catch TREE ENV FILE EDIT MESSAGE: an environment's test must fail with
# MESSAGE once FILE (relative to the environment) is broken with the sed EDIT. Runs in
# a copy of the whole tofu tree (the environment calls ../../modules/proxmox-vm).
tofu_env_tests_catch() {
  local tree=$1 env=$2 file=$3 edit=$4 message=$5 copy
  copy=$(mktemp -d)
  cp -R "$tree"/. "$copy"/
  sed -i -e "$edit" "$copy/envs/$env/$file"
  if cmp -s "$tree/envs/$env/$file" "$copy/envs/$env/$file"; then
    echo "the mutation '$edit' changed nothing in $file: fix the check"
    rm -rf "$copy"
    return 1
  fi
  if tofu_offline -chdir="$copy/envs/$env" test -no-color -var-file=terraform.tfvars.example >"$copy/.test.log" 2>&1; then
    echo "tofu test passed although $file was broken with '$edit'"
    rm -rf "$copy"
    return 1
  fi
  if ! grep -qF -- "$message" "$copy/.test.log"; then
    echo "tofu test failed, but not with '$message':"
    tail -40 "$copy/.test.log"
    rm -rf "$copy"
    return 1
  fi
  rm -rf "$copy"
}

checks_tofu() {
  local tree="$GENERATED/tofu" work
  step "tofu tree rendered (module and at least one environment)" \
    test -f "$tree/modules/proxmox-vm/main.tf" -a -n "$(find "$tree/envs" -mindepth 1 -maxdepth 1 -type d 2>/dev/null)"
  step "create_before_destroy on the VM resource" tofu_check_cbd "$tree/modules/proxmox-vm/main.tf"
  step "the create_before_destroy check fails without it" tofu_check_cbd_can_fail "$tree/modules/proxmox-vm/main.tf"
  if need make; then
    step "make tf-*/kubeconfig: ENV checks, plan, kubeconfig rewrite and merge (stand-ins)" bash "$ROOT/tests/tofu/make-targets.sh"
  fi
  need tofu || return 0

  step "tofu fmt -check -recursive" tofu fmt -check -recursive -diff -no-color "$tree"
  step "tofu fmt -check terraform.tfvars.example" tofu_fmt_examples "$tree"

  work=$(mktemp -d "${TMPDIR:-/tmp}/homelabgen-tofu.XXXXXX")
  tofu_work_copy "$tree" "$work/default"
  tofu_tree_checks "spec" "$work/default" yes

  # The test specs (tests/specs/*.yaml): several VMs per environment, other sizes,
  # user_data (multi-vm), a k3s cluster over three Proxmox nodes (ha), ... personal.yaml
  # runs a whole `make test` of its own (tests/personal/make-test.sh).
  local spec label
  if [ -n "${HOMELABGEN:-}" ] || need cargo; then
    for spec in "$ROOT"/tests/specs/*.yaml; do
      label=$(basename "$spec" .yaml)
      [ "$label" = personal ] && continue
      step "$label: test spec renders" homelabgen render --quiet --spec "$spec" --out "$work/spec-$label"
      if [ -d "$work/spec-$label/tofu" ]; then
        step "$label: tofu fmt -check -recursive" tofu fmt -check -recursive -diff -no-color "$work/spec-$label/tofu"
        step "$label: tofu fmt -check terraform.tfvars.example" tofu_fmt_examples "$work/spec-$label/tofu"
        tofu_tree_checks "$label" "$work/spec-$label/tofu" no
      fi
    done
    # The cluster assertions of an environment's test must catch a broken vendor data.
    if [ -d "$work/spec-ha/tofu/envs/ha/.terraform" ]; then
      step "ha: env test catches a second server with cluster-init" tofu_env_tests_catch "$work/spec-ha/tofu" ha \
        vendor-data/cp-2.yaml.tftpl 's|server: https://.*:6443|cluster-init: true|' 'cp-2: must join the cluster'
      step "ha: env test catches an agent that runs as a server" tofu_env_tests_catch "$work/spec-ha/tofu" ha \
        vendor-data/worker-1.yaml.tftpl 's|^      agent$|      server|' 'worker-1: must be a k3s agent'
      # shellcheck disable=SC2016 # a literal ${token}
      step "ha: env test catches a VM given its own token" tofu_env_tests_catch "$work/spec-ha/tofu" ha \
        vendor-data/worker-2.yaml.tftpl 's|token: "${token}"|token: "${token}x"|' 'worker-2: the vendor data must carry the cluster token'
      step "ha: env test catches a VM on the wrong node" tofu_env_tests_catch "$work/spec-ha/tofu" ha \
        main.tf '0,/node          = "pve2"/s//node          = "pve1"/' 'cp-2: must run on node pve2'
    fi
  fi

  # The module's tests must fail when a requirement breaks.
  local module="$work/default/modules/proxmox-vm"
  if [ -d "$module/.terraform" ]; then
    step "module tests catch a disk without SSD emulation" tofu_tests_catch "$module" main.tf \
      's/ssd          = true/ssd          = false/' vm.tftest.hcl "the disk must have SSD emulation on"
    step "module tests catch a NIC that is not virtio" tofu_tests_catch "$module" main.tf \
      's/model  = "virtio"/model  = "e1000"/' vm.tftest.hcl "the network interface must be virtio"
    step "module tests catch user_account kept with user_data" tofu_tests_catch "$module" main.tf \
      's/var.user_data == null ? \[var.user\] : \[\]/[var.user]/' user_data.tftest.hcl "with user_data there must be no user_account"
    step "module tests catch a validation that accepts anything" tofu_tests_catch "$module" variables.tf \
      's/var.cores >= 1 \&\& var.cores <= 512/true/' validation.tftest.hcl 'run "rejects_zero_cores"... fail'
  fi
  rm -rf "$work"
}
