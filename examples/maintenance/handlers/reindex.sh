#!/usr/bin/env bash
# A long normal-lane job: 40 s of "work" with progress, longer than the walkthrough takes even on
# a loaded machine (the walkthrough cancels it). Stops on SIGTERM (cancel / shutdown).
set -euo pipefail
cat >/dev/null
trap 'echo "{\"log\":\"reindex interrupted\"}"; exit 143' TERM
for i in $(seq 80); do
  echo "{\"progress\":{\"current\":$i,\"total\":80,\"phase\":\"reindex\"}}"
  sleep 0.5
done
echo '{"result":{"reindexed":true}}'
