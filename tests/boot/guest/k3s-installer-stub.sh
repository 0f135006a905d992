#!/bin/sh
# Stand-in for the upstream k3s installer in the boot tests. scripts/k3s-install.sh runs it
# exactly as it runs the real one (sh install.sh with INSTALL_K3S_VERSION,
# INSTALL_K3S_SKIP_START=true, INSTALL_K3S_EXEC=server); it installs the stub binary and a
# k3s.service shaped like the installer's (Type=notify, ExecStart=k3s $INSTALL_K3S_EXEC),
# enables it and, like the installer under INSTALL_K3S_SKIP_START, does not start it.
set -eu
: "${INSTALL_K3S_VERSION:?}"
[ "${INSTALL_K3S_SKIP_START:-}" = true ] || { echo "stub installer: expected INSTALL_K3S_SKIP_START=true" >&2; exit 1; }
sed "s|@VERSION@|$INSTALL_K3S_VERSION|" /usr/local/share/boot-test/k3s-stub >/usr/local/bin/k3s
chmod 0755 /usr/local/bin/k3s
cat >/etc/systemd/system/k3s.service <<UNIT
[Unit]
Description=Lightweight Kubernetes (boot-test stub)
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
NotifyAccess=all
ExecStart=/usr/local/bin/k3s ${INSTALL_K3S_EXEC:-server}
Restart=always
RestartSec=5s

[Install]
WantedBy=multi-user.target
UNIT
: >/etc/systemd/system/k3s.service.env
chmod 0600 /etc/systemd/system/k3s.service.env
systemctl enable k3s.service
echo "stub installer: k3s $INSTALL_K3S_VERSION installed, enabled, not started"
