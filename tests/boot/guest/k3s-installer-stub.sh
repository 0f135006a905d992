#!/bin/sh
# Stand-in for the upstream k3s installer in the boot tests. scripts/k3s-install.sh runs it
# exactly as it runs the real one, twice: INSTALL_K3S_EXEC=server, then
# INSTALL_K3S_EXEC=agent with INSTALL_K3S_SKIP_DOWNLOAD=true, both with
# INSTALL_K3S_SKIP_ENABLE=true and INSTALL_K3S_SKIP_START=true. Like the installer it
# installs the binary (the stub; not again when the download is skipped), names the unit
# after the command (k3s.service for server, k3s-agent.service for agent) shaped like the
# installer's (Type=notify, ExecStart=k3s COMMAND), writes its .env file, and enables
# the unit only without INSTALL_K3S_SKIP_ENABLE.
set -eu
: "${INSTALL_K3S_VERSION:?}"
[ "${INSTALL_K3S_SKIP_START:-}" = true ] || { echo "stub installer: expected INSTALL_K3S_SKIP_START=true" >&2; exit 1; }
command=${INSTALL_K3S_EXEC:-server}
command=${command%% *}
case "$command" in
server) name=k3s ;;
*) name=k3s-$command ;;
esac
if [ "${INSTALL_K3S_SKIP_DOWNLOAD:-}" != true ]; then
  sed "s|@VERSION@|$INSTALL_K3S_VERSION|" /usr/local/share/boot-test/k3s-stub >/usr/local/bin/k3s
  chmod 0755 /usr/local/bin/k3s
fi
[ -x /usr/local/bin/k3s ] || { echo "stub installer: no k3s binary and the download skipped" >&2; exit 1; }
cat >"/etc/systemd/system/$name.service" <<UNIT
[Unit]
Description=Lightweight Kubernetes (boot-test stub)
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
NotifyAccess=all
EnvironmentFile=-/etc/systemd/system/$name.service.env
ExecStart=/usr/local/bin/k3s $command
Restart=always
RestartSec=5s

[Install]
WantedBy=multi-user.target
UNIT
: >"/etc/systemd/system/$name.service.env"
chmod 0600 "/etc/systemd/system/$name.service.env"
if [ "${INSTALL_K3S_SKIP_ENABLE:-}" != true ]; then
  systemctl enable "$name.service"
fi
echo "stub installer: k3s $INSTALL_K3S_VERSION, $name.service ($command) installed, not started"
