#!/usr/bin/env bash
# Generates the compose topology's secrets into docker/secrets/
# (git-ignored), so no shipped file holds a credential:
# - SSH: the bastion's host key, the service's client key, the bastion's
#   authorized_keys (that key only) and the service's known_hosts (the
#   bastion's host key under the name "bastion");
# - TLS: a CA (tls_ca) and the replicas' certificate (tls_cert, tls_key:
#   DNS db-1, db-2, localhost, IP 127.0.0.1);
# - caller auth: an operator token (client_token, with roles=admin) and the
#   tokens file holding its hash (auth_tokens);
# - compose.env: random POSTGRES_PASSWORD and PAGE_TOKEN_KEY for the
#   replicas; postgres.env: the password alone, for PostgreSQL.
# Existing files are kept unless --force. Run as root: the service's keys
# are handed to its uid 10001, the host key stays root-only.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=docker/secrets
if [ -f "$dir/compose.env" ] && [ "${1:-}" != --force ]; then
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

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
  -subj "/CN=chatgenius-db compose CA" -keyout "$dir/tls_ca.key" -out "$dir/tls_ca" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=chatgenius-db" \
  -keyout "$dir/tls_key" -out "$dir/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:db-1,DNS:db-2,DNS:localhost,IP:127.0.0.1\n' >"$dir/tls.ext"
openssl x509 -req -in "$dir/tls.csr" -CA "$dir/tls_ca" -CAkey "$dir/tls_ca.key" \
  -CAcreateserial -days 825 -extfile "$dir/tls.ext" -out "$dir/tls_cert" 2>/dev/null
rm -f "$dir/tls.csr" "$dir/tls.ext" "$dir/tls_ca.srl" "$dir/tls_ca.key"

token=$(openssl rand -hex 32)
printf '%s\n' "$token" >"$dir/client_token"
printf '%s  ops  roles=admin\n' "$(printf %s "$token" | sha256sum | cut -d' ' -f1)" >"$dir/auth_tokens"
password=$(openssl rand -hex 24)
printf 'POSTGRES_PASSWORD=%s\n' "$password" >"$dir/postgres.env"
printf 'POSTGRES_PASSWORD=%s\nPAGE_TOKEN_KEY=%s\n' "$password" "$(openssl rand -hex 32)" \
  >"$dir/compose.env"

chmod 600 "$dir/bastion_host_key" "$dir/ssh_client_key" "$dir/tls_key" "$dir/client_token" \
  "$dir/compose.env" "$dir/postgres.env"
chmod 644 "$dir/bastion_authorized_keys" "$dir/ssh_known_hosts" "$dir/tls_ca" "$dir/tls_cert" \
  "$dir/auth_tokens"
# The service runs as uid 10001 and must read its keys (0600).
for f in ssh_client_key tls_key; do
  chown 10001:10001 "$dir/$f" 2>/dev/null || chmod 644 "$dir/$f"
done
echo "wrote $dir: SSH keys and known_hosts, TLS CA/cert/key, auth_tokens + client_token, compose.env"
