#!/usr/bin/env bash
# A long normal-lane job: 8 s of "work" with progress. Stops on SIGTERM (cancel / shutdown).
set -euo pipefail
cat >/dev/null
trap 'echo "{\"log\":\"reindex interrupted\"}"; exit 143' TERM
for i in $(seq 16); do
  echo "{\"progress\":{\"current\":$i,\"total\":16,\"phase\":\"reindex\"}}"
  sleep 0.5
done
echo '{"result":{"reindexed":true}}'
