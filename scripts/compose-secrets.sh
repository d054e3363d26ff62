#!/usr/bin/env bash
# Generates the compose topology's SSH material into docker/secrets/
# (git-ignored): the bastion's host key, the service's client key, the
# bastion's authorized_keys (that key only) and the service's known_hosts
# (the bastion's host key under the name "bastion"). Existing files are
# kept unless --force. Run as root: the client key is handed to the
# service's uid 10001, the host key stays root-only.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=docker/secrets
if [ -f "$dir/ssh_client_key" ] && [ "${1:-}" != --force ]; then
  echo "docker/secrets exists (use --force to replace)"
  exit 0
fi
rm -rf "$dir"
mkdir -p "$dir"
ssh-keygen -q -t ed25519 -N '' -C bastion-host -f "$dir/bastion_host_key"
ssh-keygen -q -t ed25519 -N '' -C chatgenius-db -f "$dir/ssh_client_key"
cp "$dir/ssh_client_key.pub" "$dir/bastion_authorized_keys"
echo "bastion $(cut -d' ' -f1,2 "$dir/bastion_host_key.pub")" >"$dir/ssh_known_hosts"
rm -f "$dir"/*.pub
chmod 600 "$dir/bastion_host_key" "$dir/ssh_client_key"
chmod 644 "$dir/bastion_authorized_keys" "$dir/ssh_known_hosts"
# The service runs as uid 10001 and must read its key (0600).
chown 10001:10001 "$dir/ssh_client_key" 2>/dev/null || chmod 644 "$dir/ssh_client_key"
echo "wrote $dir: bastion_host_key, bastion_authorized_keys, ssh_client_key, ssh_known_hosts"
