#!/usr/bin/env bash
# Opt-in (not in npm test): build the production image and check a container of it becomes
# healthy. Needs a Docker daemon (`docker info` must succeed).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! docker info >/dev/null 2>&1; then
  echo "no Docker daemon (docker info failed): nothing built" >&2
  exit 2
fi
tag="${HOTLEDGER_IMAGE:-hotledger:production}"
docker build -f Dockerfile.production -t "$tag" .
name="hotledger-image-check-$$"
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
# A one-node devnet: the API on 0.0.0.0 so the health check and the host can reach it.
docker run -d --name "$name" -e HOTLEDGER_HOST=0.0.0.0 -e HOTLEDGER_DATA_DIR=/var/lib/hotledger/devnet "$tag" start --devnet >/dev/null
for _ in $(seq 1 60); do
  status="$(docker inspect -f '{{.State.Health.Status}}' "$name")"
  if [ "$status" = healthy ]; then
    echo "$tag: container healthy (HEALTHCHECK on /q/health/ready passed)"
    exit 0
  fi
  sleep 2
done
echo "$tag: container not healthy after 120 s; its log:" >&2
docker logs "$name" >&2
exit 1
