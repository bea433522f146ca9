#!/usr/bin/env bash
# A maintenance task as an exec handler (docs/promises.md §5.1): stdin is {"job":…,"item":null}; stdout lines
# {"log":…}, {"progress":…}, {"result":…}.
set -euo pipefail
task=$1
cat >/dev/null   # the job (the payload is not needed here)
echo "{\"log\":\"$task maintenance: job $JOBKERNEL_JOB_ID ($JOBKERNEL_JOB_TYPE), attempt $JOBKERNEL_ATTEMPT\"}"
echo '{"progress":{"current":1,"total":2,"phase":"scan"}}'
sleep 0.2
echo '{"progress":{"current":2,"total":2,"phase":"clean"}}'
echo "{\"result\":{\"task\":\"$task\",\"removed\":$((RANDOM % 5))}}"
