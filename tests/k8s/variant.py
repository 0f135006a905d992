"""The k8s variant spec of checks/k8s.sh, derived from the user's spec.

    python3 tests/k8s/variant.py USER_SPEC SECTION OUT

Writes OUT: USER_SPEC with SECTION's `kubernetes:` section in place of its own, pointed at
the user's cluster environment (their `kubernetes.cluster`, else their first environment)
and with a MetalLB pool chosen inside that environment's network, clear of its gateway,
nameservers, VM addresses and the network and broadcast addresses. Nothing of the example
is assumed: any valid spec gives a valid variant.
"""

import ipaddress
import sys

import yaml


def free_pool(network, used):
    """An aligned CIDR block of the network holding no used address, else a range."""
    edges = {network.network_address, network.broadcast_address}
    for prefix in (28, 29, 30):
        if network.prefixlen > prefix:
            continue
        for block in reversed(list(network.subnets(new_prefix=prefix))):
            if not any(a in block for a in used | edges):
                return str(block)
    free = [h for h in network.hosts() if h not in used]
    if free:
        return f"{free[-1]}-{free[-1]}"
    return None


def main(user_spec, section, out):
    with open(user_spec, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    with open(section, encoding="utf-8") as f:
        variant = yaml.safe_load(f)["kubernetes"]
    environments = spec["environments"]
    cluster = (spec.get("kubernetes") or {}).get("cluster") or environments[0]["name"]
    env = next(e for e in environments if e["name"] == cluster)
    network = ipaddress.ip_network(env["network"]["cidr"], strict=False)
    used = {ipaddress.ip_address(env["network"]["gateway"])}
    used |= {ipaddress.ip_address(n) for n in env["network"].get("nameservers") or []}
    used |= {ipaddress.ip_address(str(vm["ip"]).split("/")[0]) for vm in env["vms"]}
    variant["cluster"] = cluster
    pool = free_pool(network, used)
    if pool is None:
        del variant["metallb"]
    else:
        variant["metallb"]["addresses"] = [pool]
    spec["kubernetes"] = variant
    with open(out, "w", encoding="utf-8") as f:
        yaml.safe_dump(spec, f, sort_keys=False)
    print(f"variant: cluster {cluster}, MetalLB pool {pool or 'none (no free address)'}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
